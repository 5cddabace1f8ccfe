// Package portstate assembles porttrack's state: the kernel (package
// state: the Pebble database, the Batch envelope, Apply's transaction,
// event-id dedupe, partition offsets and the outbox) and the domains that
// Apply runs as its stages, in their order. Everything above state (ingest,
// query, bench, cmd) opens the state through here and reaches each domain
// through the State it returns.
package portstate

import (
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/customs"
)

// State is porttrack's opened state: the kernel's Store and its domains.
type State struct {
	*state.Store
	// Customs is the customs and cross-border e-commerce domain.
	Customs *customs.Customs
}

// domains are the domains of one State, constructed before the kernel
// opens so that their stages can be listed.
type domains struct {
	customs *customs.Customs
}

// stages returns Apply's stages in their order: the one list of it.
// state/doc.go ("Apply stages") says why each comes where it does.
func stages(d *domains) []state.Stage {
	return []state.Stage{
		state.ContainerEventsStage,
		state.LocationsStage,
		state.ContainerFencesStage,
		state.LoadsStage,
		state.VesselsStage,
		state.TrucksStage,
		d.customs.Stage(),
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
	d := &domains{customs: customs.New(opts.Customs, opts.Now)}
	opts.Stages = stages(d)
	// The connection guard asks customs what blocks a box.
	opts.CustomsBlocks = d.customs
	st, err := state.Open(opts)
	if err != nil {
		return nil, err
	}
	// Customs lists answer a logistics caller with its boxes (tenancy).
	d.customs.UseScopes(st)
	return &State{Store: st, Customs: d.customs}, nil
}
