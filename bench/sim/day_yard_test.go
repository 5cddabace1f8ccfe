package sim

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/porttrack/porttrack/ingest/rfid"
	"github.com/porttrack/porttrack/state"
)

// dayRead is an RFID record of the day model, EPCIS or a raw read.
type dayRead struct {
	box, code, reader, location string
	at                          time.Time
}

func parseDayRead(t *testing.T, v []byte) dayRead {
	t.Helper()
	var r struct {
		EventTime        time.Time `json:"eventTime"`
		EpcList          []string  `json:"epcList"`
		BizStep          string    `json:"bizStep"`
		ReadPoint        struct{ ID string }
		BizLocation      struct{ ID string }
		Reader, Epc, Dir string
		T                time.Time
	}
	if err := json.Unmarshal(v, &r); err != nil {
		t.Fatalf("%s: %v", v, err)
	}
	if r.Reader != "" {
		code := r.Reader[strings.LastIndexByte(r.Reader, '-')+1:]
		switch r.Dir { // gate lanes read both ways
		case "in":
			code = "GTIN"
		case "out":
			code = "GTOT"
		}
		return dayRead{box: strings.TrimPrefix(r.Epc, "urn:epc:id:bic:"), code: code, reader: r.Reader, at: r.T}
	}
	code := map[string]string{"arriving": "GTIN", "departing": "GTOT", "loading": "LOAD", "unloading": "DISC", "inspecting": "INSP", "holding": "HOLD", "storing": "STOR"}[r.BizStep]
	return dayRead{box: strings.TrimPrefix(r.EpcList[0], "urn:epc:id:bic:"), code: code, reader: r.ReadPoint.ID,
		location: r.BizLocation.ID, at: r.EventTime}
}

// TestDayYardMoves: the day model stacks boxes in the yard blocks of the
// port model: every box discharged by a quay crane, unloaded from a train or
// gated in for export is read at a yard block (an EPCIS storing event, not
// an inspection; its place id as read point, its facility as location) once
// its tractor or truck puts it down, and it
// stays there until its next move. The first minutes of the day already
// fill a block of BLCT (nbct), and customs holds appear in them too.
func TestDayYardMoves(t *testing.T) {
	geo, err := loadPortGeo()
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string]string{} // place id -> facility
	for _, rp := range geo.blocks {
		blocks[rp.id] = rp.facility
	}
	if len(blocks) < 10 {
		t.Fatalf("port model yard blocks: %v", blocks)
	}
	dec, err := rfid.NewDecoder(rfid.Config{Readers: rfid.DefaultReaders()})
	if err != nil {
		t.Fatal(err)
	}
	for _, seed := range []int64{1, 2, 3} {
		cfg := DayConfig{Scale: 0.05, Seed: seed, Start: fixedStart, Duration: 12 * time.Hour,
			BadRate: -1, DupRate: -1, LateRate: -1, Customs: CustomsDayFlows(seed)}
		end := fixedStart.Add(cfg.Duration)
		early := fixedStart.Add(30 * time.Minute)
		var (
			waiting                  = map[string]dayRead{} // box -> move that should end in the yard
			stacked, moves           int
			firstNBCTYard, firstHold time.Time
			inYard                   = map[string]bool{}
		)
		for _, r := range NewDayGenerator(cfg).Next(nil, 1<<30) {
			switch r.Topic {
			case "port.customs":
				if (bytes.Contains(r.Value, []byte(`"container.held"`)) || bytes.Contains(r.Value, []byte(`"container.inspection"`))) && firstHold.IsZero() {
					firstHold = r.Time
				}
				continue
			case "port.rfid":
			default:
				continue
			}
			rd := parseDayRead(t, r.Value)
			if fac, ok := blocks[rd.reader]; ok {
				if rd.location != fac || rd.code != "STOR" {
					t.Fatalf("seed %d: yard read %s: want an EPCIS storing event at %s", seed, r.Value, fac)
				}
				if evs, err := dec.Decode(nil, r.Value); err != nil || len(evs) != 1 || evs[0].Code != state.CodeSTOR || evs[0].Location != fac {
					t.Fatalf("seed %d: yard read %s decodes to %+v %v, want one STOR at %s", seed, r.Value, evs, err, fac)
				}
				if w, ok := waiting[rd.box]; ok {
					if d := rd.at.Sub(w.at); d < 0 || d > 2*time.Hour { // Meishan boxes of the Beilun station ride an hour
						t.Fatalf("seed %d: %s stacked %v after its %s", seed, rd.box, d, w.code)
					}
					delete(waiting, rd.box)
					stacked++
				}
				if strings.HasPrefix(rd.location, "CNNGB-BLCT-YARD-") && firstNBCTYard.IsZero() {
					firstNBCTYard = rd.at
				}
				inYard[rd.box] = true
				continue
			}
			if inYard[rd.box] && rd.code != "GTOT" && rd.code != "LOAD" && rd.code != "INSP" {
				t.Fatalf("seed %d: %s leaves its yard block by %s %s, want a gate-out, a load or an inspection", seed, rd.box, rd.code, rd.reader)
			}
			delete(inYard, rd.box)
			into := (rd.code == "DISC") || (rd.code == "GTIN")
			if into && rd.at.Before(end.Add(-2*time.Hour)) {
				waiting[rd.box] = rd
				moves++
			}
		}
		if len(waiting) > 0 || moves < 100 {
			n := 0
			for b, w := range waiting {
				if n++; n > 5 {
					break
				}
				t.Errorf("seed %d: %s: %s %s at %v never stacked in a yard block", seed, b, w.code, w.reader, w.at)
			}
			t.Fatalf("seed %d: %d of %d discharges, rail unloads and export gate-ins reached a yard block", seed, stacked, moves)
		}
		if firstNBCTYard.IsZero() || firstNBCTYard.After(early) {
			t.Errorf("seed %d: first box stacked in a BLCT yard block at %v, want within %v of the start", seed, firstNBCTYard, early.Sub(fixedStart))
		}
		if firstHold.IsZero() || firstHold.After(early) {
			t.Errorf("seed %d: first customs hold or inspection at %v, want within %v of the start", seed, firstHold, early.Sub(fixedStart))
		}
		t.Logf("seed %d: %d boxes stacked; first BLCT stack %v, first hold %v after the start", seed, stacked,
			firstNBCTYard.Sub(fixedStart), firstHold.Sub(fixedStart))
	}
}
