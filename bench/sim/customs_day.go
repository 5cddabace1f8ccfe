package sim

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// CustomsDayFlows returns a CustomsSource for the day model: the container
// customs messages of its boxes, timed by their milestones. An import box is
// on the manifest (manifest_arrival), declared half an hour later, released
// two hours after its discharge — unless the risk check of the manifest
// selects it, 20 minutes after the manifest and so before its discharge,
// for inspection (8 %: inspected five hours after the discharge, then
// released) or holds it in quarantine (2 %: lifted a day after the
// discharge, then released). An export box is declared and released at its
// gate or rail arrival, and its customs file closed when it is loaded. The
// flows are a function of seed and the milestones.
func CustomsDayFlows(seed int64) CustomsSource {
	rng := rand.New(rand.NewPCG(uint64(seed), 0xc0de))
	n := 0
	// selected holds the import boxes the manifest check selected, until
	// their discharge.
	const (
		inspect = iota + 1
		quarantine
	)
	selected := map[string]int{}
	return func(dst []Record, m Milestone) []Record {
		msg := func(ev string, at time.Time, extra string) {
			n++
			dst = append(dst, Record{Key: []byte(m.Container), Time: at, Value: fmt.Appendf(nil,
				`{"type":"container.%s","id":"day-%d-%d","container":"%s","t":"%s"%s}`,
				ev, seed, n, m.Container, at.UTC().Format(time.RFC3339), extra)})
		}
		switch {
		case m.Kind == Manifest && !m.Export:
			bill := ""
			if m.Vessel.Voyage != "" {
				bill = fmt.Sprintf(`,"bill_no":"%s-%s"`, m.Vessel.Voyage, m.Container)
			}
			msg("manifest_arrival", m.Time, bill)
			switch r := rng.Float64(); {
			case r < 0.08:
				selected[m.Container] = inspect
				msg("inspection", m.Time.Add(20*time.Minute), `,"reason":"selected for inspection at the Beilun inspection area"`)
			case r < 0.10:
				selected[m.Container] = quarantine
				msg("held", m.Time.Add(20*time.Minute), `,"hold_kind":"quarantine","reason":"epidemic prevention: disinfection required"`)
			}
			msg("declared", m.Time.Add(30*time.Minute), fmt.Sprintf(`,"declaration_no":"3105%014d"`, n))
		case m.Kind == Discharged && !m.Export:
			sel := selected[m.Container]
			delete(selected, m.Container)
			switch sel {
			case inspect:
				msg("inspected", m.Time.Add(5*time.Hour), "")
				msg("released", m.Time.Add(5*time.Hour+10*time.Minute), "")
			case quarantine:
				msg("hold_lifted", m.Time.Add(25*time.Hour), `,"hold_kind":"quarantine"`)
				msg("released", m.Time.Add(25*time.Hour+10*time.Minute), "")
			default:
				msg("released", m.Time.Add(2*time.Hour), "")
			}
		case (m.Kind == GateIn || m.Kind == RailUnloaded) && m.Export:
			msg("declared", m.Time, fmt.Sprintf(`,"declaration_no":"3105%014d"`, n))
			msg("released", m.Time.Add(time.Hour), "")
		case m.Kind == Loaded && m.Export:
			msg("closed", m.Time.Add(time.Hour), "")
		}
		return dst
	}
}
