package rfid

import (
	"fmt"

	"github.com/porttrack/porttrack/state"
)

// Reader describes one fixed RFID reader (a gate portal, a quay crane, a yard
// stacker, a rail ramp): where it is and what a read there means.
type Reader struct {
	// Facility is the location id recorded for reads at this reader.
	Facility string `yaml:"facility" json:"facility"`
	// Event is the event code a read means ("GTIN", "GTOT", "LOAD", "DISC",
	// "INSP", "HOLD", "STOR": a yard stacker's read, the box stacked in its
	// block). Empty means the read's direction decides: "in" is GTIN and
	// "out" is GTOT (gate portals that read both ways).
	Event string `yaml:"event" json:"event"`
}

// Validate checks the reader entry.
func (r Reader) Validate() error {
	if r.Facility == "" {
		return fmt.Errorf("facility is empty")
	}
	if len(r.Facility) > state.MaxFieldLen {
		return fmt.Errorf("facility longer than %d bytes", state.MaxFieldLen)
	}
	if r.Event != "" {
		if _, ok := state.ParseCode(r.Event); !ok {
			return fmt.Errorf("event %q is not one of GTIN, GTOT, LOAD, DISC, INSP, HOLD, STOR", r.Event)
		}
	}
	return nil
}

// DefaultReaders is the reader table of the Ningbo-Zhoushan demo: gate
// portals, quay cranes and rail ramps of the Beilun and Chuanshan terminals.
// Facility ids are porttrack's own (UN/LOCODE of the port, terminal, place);
// production deployments configure their own table.
func DefaultReaders() map[string]Reader {
	m := make(map[string]Reader)
	terminals := []struct{ code, name string }{
		{"BLCT", "Beilun"}, {"CSCT", "Chuanshan"}, {"MSCT", "Meishan"},
	}
	for _, t := range terminals {
		for lane := 1; lane <= 4; lane++ {
			m[fmt.Sprintf("%s-GATE-L%d", t.code, lane)] = Reader{Facility: "CNNGB-" + t.code + "-GATE"}
		}
		for crane := 1; crane <= 6; crane++ {
			m[fmt.Sprintf("%s-QC%02d-LOAD", t.code, crane)] = Reader{Facility: "CNNGB-" + t.code + "-QUAY", Event: "LOAD"}
			m[fmt.Sprintf("%s-QC%02d-DISC", t.code, crane)] = Reader{Facility: "CNNGB-" + t.code + "-QUAY", Event: "DISC"}
		}
		m[t.code+"-INSP"] = Reader{Facility: "CNNGB-" + t.code + "-INSPECTION", Event: "INSP"}
	}
	m["BLRS-RAMP-LOAD"] = Reader{Facility: "CNNGB-BEILUN-RAIL", Event: "LOAD"}
	m["BLRS-RAMP-DISC"] = Reader{Facility: "CNNGB-BEILUN-RAIL", Event: "DISC"}
	return m
}
