// Package portstate assembles porttrack's state: the kernel (package
// state: the Pebble database, the Batch envelope, Apply's transaction,
// event-id dedupe, partition offsets and the outbox) and the domains that
// Apply runs as its stages, in their order. Everything above state (ingest,
// query, bench, cmd) opens the state through here and reaches each domain
// through the State it returns.
package portstate

import "github.com/porttrack/porttrack/state"

// State is porttrack's opened state: the kernel's Store and its domains.
type State struct {
	*state.Store
}

// Open opens (creating if needed) the state described by opts.
func Open(opts state.Options) (*State, error) {
	st, err := state.Open(opts)
	if err != nil {
		return nil, err
	}
	return &State{Store: st}, nil
}
