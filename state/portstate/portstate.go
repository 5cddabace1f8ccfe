// Package portstate assembles porttrack's state: the kernel (package
// state: the Pebble database, the Batch envelope, Apply's transaction,
// event-id dedupe, partition offsets and the outbox) and the domains that
// Apply runs as its stages, in their order. Everything above state (ingest,
// query, bench, cmd) opens the state through here and reaches each domain
// through the State it returns.
package portstate

import (
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/dcsa"
	"github.com/porttrack/porttrack/state/tenant"
)

// State is porttrack's opened state: the kernel's Store and its domains.
type State struct {
	*state.Store
	// Tenants are the API keys and the reads of container links.
	Tenants *tenant.Tenants
	// DCSA is the DCSA event log and its subscriptions.
	DCSA *dcsa.DCSA
}

// stages returns Apply's stages in their order: the one list of it.
// state/doc.go ("Apply stages") says why each comes where it does.
func stages() []state.Stage {
	return []state.Stage{
		state.ContainerEventsStage,
		state.LocationsStage,
		state.ContainerFencesStage,
		state.LoadsStage,
		state.VesselsStage,
		state.TrucksStage,
		state.CustomsStage,
		state.MultimodalStage,
		state.BatchOutboxStage,
	}
}

// Open opens (creating if needed) the state described by opts, with every
// domain's stage in its place. opts.Stages must be nil.
func Open(opts state.Options) (*State, error) {
	if opts.Stages != nil {
		return nil, errStagesSet
	}
	opts.Stages = stages()
	// The domains the kernel calls during Open and Apply exist before it;
	// they get the opened store after.
	tenants := tenant.New()
	events := dcsa.New(opts.MaxSubscriptions, tenants)
	opts.Keys, opts.DCSA = tenants, events
	st, err := state.Open(opts)
	if err != nil {
		return nil, err
	}
	events.Attach(st)
	tenants.Attach(st, events)
	return &State{Store: st, Tenants: tenants, DCSA: events}, nil
}
