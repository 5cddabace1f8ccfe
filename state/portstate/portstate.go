// Package portstate assembles porttrack's state: the kernel (package
// state: the Pebble database, the Batch envelope, Apply's transaction,
// event-id dedupe, partition offsets and the outbox) and the domains that
// Apply runs as its stages, in their order. Everything above state (ingest,
// query, bench, cmd) opens the state through here and reaches each domain
// through the State it returns.
package portstate

import (
	"errors"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/customs"
	"github.com/porttrack/porttrack/state/dcsa"
	"github.com/porttrack/porttrack/state/tenant"
	"github.com/porttrack/porttrack/state/truck"
)

// State is porttrack's opened state: the kernel's Store and its domains.
type State struct {
	*state.Store
	// Trucks is the trucks domain: positions, tracks, the boxes they carry.
	Trucks *truck.Trucks
	// Customs is the customs and cross-border e-commerce domain.
	Customs *customs.Customs
	// Tenants are the API keys and the reads of container links.
	Tenants *tenant.Tenants
	// DCSA is the DCSA event log and its subscriptions.
	DCSA *dcsa.DCSA
}

// domains are the domains of one State, constructed before the kernel
// opens so that their stages can be listed and the kernel given the ones
// it calls; they get the opened store after.
type domains struct {
	trucks  *truck.Trucks
	customs *customs.Customs
	tenants *tenant.Tenants
	dcsa    *dcsa.DCSA
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
		d.trucks.Stage(),
		d.customs.Stage(),
		state.MultimodalStage,
		state.BatchOutboxStage,
	}
}

// newDomains constructs each domain with what it needs of the others.
func newDomains(opts state.Options) *domains {
	tenants := tenant.New()
	return &domains{
		trucks:  truck.New(kernelFences{}, kernelBoxes{}),
		customs: customs.New(opts.Customs, opts.Now),
		tenants: tenants,
		dcsa:    dcsa.New(opts.MaxSubscriptions, tenants),
	}
}

// Open opens (creating if needed) the state described by opts, with every
// domain's stage in its place. opts.Stages must be nil.
func Open(opts state.Options) (*State, error) {
	if opts.Stages != nil {
		return nil, errStagesSet
	}
	d := newDomains(opts)
	opts.Stages = stages(d)
	// The code still in package state that needs trucks (fences,
	// multimodal, container legs).
	opts.Trucks = d.trucks
	// The connection guard asks customs what blocks a box.
	opts.CustomsBlocks = d.customs
	// Fences and DCSA filters ask the tenants' keys; the stages emit
	// DCSA events into the log.
	opts.Keys, opts.DCSA = d.tenants, d.dcsa
	st, err := state.Open(opts)
	if err != nil {
		return nil, err
	}
	d.dcsa.Attach(st)
	d.tenants.Attach(st, d.dcsa)
	// Customs lists answer a logistics caller with its boxes (tenancy).
	d.customs.UseScopes(st)
	return &State{Store: st, Trucks: d.trucks, Customs: d.customs, Tenants: d.tenants, DCSA: d.dcsa}, nil
}

// kernelFences gives the trucks domain the fence observations of the fence
// code still in package state.
type kernelFences struct{}

func (kernelFences) ObserveTruckFences(tx *state.Tx, r *state.TruckReport) error {
	return tx.Store().ObserveTruckFences(tx, r)
}

// kernelBoxes gives the trucks domain the boxes' newest events from the
// container code still in package state.
type kernelBoxes struct{}

func (kernelBoxes) NewestEventTime(vw *state.View, id string) (int64, bool, error) {
	c, err := vw.Container(id)
	if errors.Is(err, state.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return c.Last.Time, c.Count > 0, nil
}
