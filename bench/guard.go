package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// GuardConfig configures the connection-guard scenario: the cost the guard
// adds to applying container events when their boxes are planned on rail
// departures, next to applying the same events to a store without plans,
// in one run.
type GuardConfig struct {
	Trains   int    // rail departures (default 100)
	PerTrain int    // containers planned on each (default 100)
	Events   int    // container events applied (default 200,000)
	Batch    int    // events per Store.Apply (default 1,000)
	Rounds   int    // measurements of each path, alternately; medians are reported (default 3)
	Dir      string // parent of the working directory; "" the system temp dir
}

func (c GuardConfig) withDefaults() GuardConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Trains, 100)
	def(&c.PerTrain, 100)
	def(&c.Events, 200_000)
	def(&c.Batch, 1000)
	def(&c.Rounds, 3)
	return c
}

// Validate reports out-of-range settings.
func (c GuardConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Trains < 1 || c.Trains > 10_000:
		return fmt.Errorf("guard trains %d out of range [1, 10000]", c.Trains)
	case c.PerTrain < 1 || c.PerTrain > state.MaxPlanContainers:
		return fmt.Errorf("guard containers per train %d out of range [1, %d]", c.PerTrain, state.MaxPlanContainers)
	case c.Events < 1 || c.Batch < 1 || c.Rounds < 1:
		return errors.New("guard events, batch and rounds must be positive")
	}
	return nil
}

// GuardRound is one measurement of both paths: the CPU time of the process
// while it applied the events (Pebble's background work included), which a
// loaded machine disturbs less than the elapsed time.
type GuardRound struct {
	PlainSeconds float64 `json:"plain_cpu_seconds"`
	GuardSeconds float64 `json:"guard_cpu_seconds"`
	Alerts       int     `json:"alerts"`
}

// GuardResult is the outcome of RunGuard.
type GuardResult struct {
	Scenario  string `json:"scenario"`
	Trains    int    `json:"trains"`
	Planned   int    `json:"planned_containers"`
	Events    int    `json:"events"`
	Batch     int    `json:"batch"`
	Rounds    int    `json:"rounds"`
	CPUs      int    `json:"cpus"`
	PerRound  []GuardRound
	PlainRate float64 `json:"plain_events_per_sec"` // medians
	GuardRate float64 `json:"guard_events_per_sec"`
	// PlainNs and GuardNs are the time per event; GuardCostNs their
	// difference: what judging the connections adds per event.
	PlainNs     float64 `json:"plain_ns_per_event"`
	GuardNs     float64 `json:"guard_ns_per_event"`
	GuardCostNs float64 `json:"guard_cost_ns_per_event"`
	// Ratio is the guard path's rate over the plain path's (1: free).
	Ratio  float64 `json:"ratio_guard_to_plain"`
	Alerts int     `json:"alerts_per_round"`
}

// RunGuard measures the connection guard. Every event concerns a planned
// box (the worst case: each one re-judges its departure), and the events
// move boxes through discharge, gate-in at the station and holds, so the
// verdicts change and alerts are written.
func RunGuard(ctx context.Context, cfg GuardConfig) (GuardResult, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return GuardResult{}, err
	}
	dir, err := os.MkdirTemp(cfg.Dir, "porttrack-bench-guard-")
	if err != nil {
		return GuardResult{}, err
	}
	defer os.RemoveAll(dir)

	day := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	const station = "beilun-rail-station"
	var plans []state.Plan
	var boxes []string
	for i := range cfg.Trains {
		dep := day.Add(time.Duration(18+i%48) * time.Hour)
		p := state.Plan{Mode: state.ModeRail, ID: fmt.Sprintf("X%04d", i), Service: fmt.Sprintf("S%d", i%10), From: station, To: "CNYIW",
			Departure: dep.UnixNano(), Cutoff: dep.Add(-2 * time.Hour).UnixNano(), Time: day.Add(time.Hour).UnixNano()}
		w := state.Wagon{ID: "W1"}
		for j := range cfg.PerTrain {
			box := containerNumber(i*cfg.PerTrain + j)
			w.Containers = append(w.Containers, box)
			boxes = append(boxes, box)
		}
		p.Wagons = []state.Wagon{w}
		plans = append(plans, p)
	}
	codes := []state.Code{state.CodeDISC, state.CodeHOLD, state.CodeINSP, state.CodeGTIN}
	events := make([]state.Event, cfg.Events)
	for i := range events {
		box := boxes[(i*7919)%len(boxes)]
		loc := "CNNGB-BLCT"
		code := codes[(i/len(boxes))%len(codes)]
		if code == state.CodeGTIN {
			loc = station
		}
		events[i] = state.Event{ID: fmt.Sprintf("g%d", i), Container: box, Code: code,
			Time: day.Add(2*time.Hour + time.Duration(i)*time.Second).UnixNano(), Location: loc, Source: "bench"}
	}

	res := GuardResult{Scenario: "guard", Trains: cfg.Trains, Planned: len(boxes), Events: cfg.Events, Batch: cfg.Batch,
		Rounds: cfg.Rounds, CPUs: runtime.NumCPU()}
	for r := range cfg.Rounds {
		var round GuardRound
		for _, withPlans := range []bool{r%2 == 0, r%2 != 0} {
			secs, alerts, err := guardPass(ctx, filepath.Join(dir, fmt.Sprintf("r%d-%v", r, withPlans)), plans, events, cfg.Batch, withPlans)
			if err != nil {
				return res, err
			}
			if withPlans {
				round.GuardSeconds, round.Alerts = secs, alerts
			} else {
				round.PlainSeconds = secs
			}
		}
		res.PerRound = append(res.PerRound, round)
	}
	plain := median(res.PerRound, func(r GuardRound) float64 { return r.PlainSeconds })
	guard := median(res.PerRound, func(r GuardRound) float64 { return r.GuardSeconds })
	res.PlainRate, res.GuardRate = float64(cfg.Events)/plain, float64(cfg.Events)/guard
	res.PlainNs, res.GuardNs = plain/float64(cfg.Events)*1e9, guard/float64(cfg.Events)*1e9
	res.GuardCostNs = res.GuardNs - res.PlainNs
	res.Ratio = res.GuardRate / res.PlainRate
	res.Alerts = res.PerRound[0].Alerts
	return res, nil
}

// containerNumber returns a valid ISO 6346 number for n.
func containerNumber(n int) string {
	serial := fmt.Sprintf("PTGU%06d", n%1_000_000)
	return serial + string(state.ContainerCheckDigit(serial))
}

// guardPass opens a fresh store, applies the plans (not timed) when
// withPlans, then the events in batches (timed).
func guardPass(ctx context.Context, dir string, plans []state.Plan, events []state.Event, batch int, withPlans bool) (float64, int, error) {
	s, err := portstate.Open(state.Options{Dir: dir, NoSync: true, Guard: state.GuardConfig{AlertTopic: "porttrack.alerts"}})
	if err != nil {
		return 0, 0, err
	}
	defer s.Close()
	var next int64
	apply := func(b *state.Batch) (state.ApplyResult, error) {
		next++
		b.Topic, b.Next = "port.transport", next
		return s.Apply(b)
	}
	if withPlans {
		for i := range plans {
			if _, err := apply(&state.Batch{Plans: plans[i : i+1]}); err != nil {
				return 0, 0, err
			}
		}
	}
	alerts := 0
	cpu0 := processCPU()
	for i := 0; i < len(events); i += batch {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		res, err := apply(&state.Batch{Events: events[i:min(i+batch, len(events))]})
		if err != nil {
			return 0, 0, err
		}
		alerts += res.Alerts
	}
	return (processCPU() - cpu0).Seconds(), alerts, nil
}

// WriteTable writes r as an aligned text table.
func (r GuardResult) WriteTable(w io.Writer) {
	rounds := "1 round"
	if r.Rounds != 1 {
		rounds = fmt.Sprintf("medians of %d rounds", r.Rounds)
	}
	fmt.Fprintf(w, "guard: %d container events about %d boxes planned on %d rail departures, batches of %d, %d CPUs, %s\n\n",
		r.Events, r.Planned, r.Trains, r.Batch, r.CPUs, rounds)
	const row = "%-36s %14s %14s\n"
	fmt.Fprintf(w, row, "path", "events/CPU-s", "CPU µs/event")
	fmt.Fprintf(w, row, "plain: the events, no plans", fmt.Sprintf("%.0f", r.PlainRate), fmt.Sprintf("%.2f", r.PlainNs/1e3))
	fmt.Fprintf(w, row, fmt.Sprintf("guard: the same events, %d trains", r.Trains), fmt.Sprintf("%.0f", r.GuardRate), fmt.Sprintf("%.2f", r.GuardNs/1e3))
	fmt.Fprintf(w, "\nguard cost: %.2f CPU µs per event (ratio guard/plain %.2f); %d connection alerts per round\n", r.GuardCostNs/1e3, r.Ratio, r.Alerts)
}
