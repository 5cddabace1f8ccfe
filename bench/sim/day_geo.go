package sim

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/porttrack/porttrack/geo/portmodel"
)

// dayTerminal is a container terminal of the day model: where its cranes,
// yard blocks and gate are (geo/portmodel) and which rail station serves it.
type dayTerminal struct {
	id     string // terminal feature id, e.g. "nbct"
	code   string // reader site, e.g. "BLCT"
	gateID string // gate feature id
	gate   latLon // centre of the gate polygon
	// inland is the bearing (degrees true) of the road from the gate into
	// the hinterland, where the trucks come from and go to.
	inland float64
	blocks []latLon // centres of the yard blocks (inspection area excluded)
	insp   latLon   // centre of the inspection area
	quay   map[string]latLon
	// craneBerth is the berth (feature id) of each crane reader: the
	// cranes that work a ship are those at its berth.
	craneBerth map[string]string
	berths     []int // indexes into berths (the AIS generator's berth spots)
	station    *dayStation
	site       *site // readers of the terminal
}

// dayStation is a port rail station of the day model.
type dayStation struct {
	id   string // feature id, e.g. "beilun-rail-station"
	at   latLon
	site *site // ramp readers; nil when the station has none
}

// portGeo is the part of geo/portmodel the day model uses.
type portGeo struct {
	terminals []*dayTerminal
	stations  []*dayStation
	// blocks are the yard blocks by their centre (dayTerminal.blocks): the
	// place id as read point and the block's facility, where a box put
	// down in the block is read.
	blocks map[latLon]readPoint
}

// The road bearings from the gates (approximate: the port model has no
// roads). Beilun and Chuanshan trucks come from the south-west by the
// G1501 ring road, Meishan trucks over the Meishan bridge from the west.
var inlandBearing = map[string]float64{"nbct": 200, "csct": 210, "msct": 270}

// stationOf is the rail station that serves a terminal.
var stationOf = map[string]string{"nbct": "beilun-rail-station", "csct": "chuanshan-rail-station", "msct": "beilun-rail-station"}

// loadPortGeo reads geo/portmodel: the terminals with cranes (readers of the
// default reader table) and the rail stations.
func loadPortGeo() (portGeo, error) {
	var fc struct {
		Features []struct {
			Geometry struct {
				Type        string          `json:"type"`
				Coordinates json.RawMessage `json:"coordinates"`
			} `json:"geometry"`
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(portmodel.GeoJSON(), &fc); err != nil {
		return portGeo{}, fmt.Errorf("sim: port model: %w", err)
	}
	prop := func(p map[string]any, k string) string { s, _ := p[k].(string); return s }
	centre := func(typ string, raw json.RawMessage) (latLon, error) {
		switch typ {
		case "Point":
			var c [2]float64
			if err := json.Unmarshal(raw, &c); err != nil {
				return latLon{}, err
			}
			return latLon{c[1], c[0]}, nil
		case "Polygon":
			var rings [][][2]float64
			if err := json.Unmarshal(raw, &rings); err != nil || len(rings) == 0 || len(rings[0]) < 2 {
				return latLon{}, fmt.Errorf("bad polygon: %v", err)
			}
			var p latLon
			ring := rings[0][:len(rings[0])-1] // closed ring: skip the repeated first point
			for _, c := range ring {
				p.lat += c[1]
				p.lon += c[0]
			}
			return latLon{p.lat / float64(len(ring)), p.lon / float64(len(ring))}, nil
		}
		return latLon{}, fmt.Errorf("geometry %s", typ)
	}
	g := portGeo{blocks: map[latLon]readPoint{}}
	terms := map[string]*dayTerminal{}
	stations := map[string]*dayStation{}
	readers := map[string]latLon{}
	readerBerth := map[string]string{}
	for _, f := range fc.Features {
		p := f.Properties
		kind, id := prop(p, "kind"), prop(p, "id")
		if kind == "route" || kind == "port_area" || kind == "anchorage" {
			continue
		}
		c, err := centre(f.Geometry.Type, f.Geometry.Coordinates)
		if err != nil {
			return portGeo{}, fmt.Errorf("sim: port model feature %s: %w", id, err)
		}
		term := func(id string) *dayTerminal {
			t := terms[id]
			if t == nil {
				t = &dayTerminal{id: id, quay: map[string]latLon{}}
				terms[id] = t
			}
			return t
		}
		switch kind {
		case "terminal":
			term(id).code = prop(p, "terminal_code")
		case "yard_block":
			t := term(prop(p, "terminal"))
			if strings.HasSuffix(id, "-inspection") {
				t.insp = c
			} else {
				t.blocks = append(t.blocks, c)
				g.blocks[c] = readPoint{id: id, facility: prop(p, "facility")}
			}
		case "gate":
			t := term(prop(p, "terminal"))
			t.gateID, t.gate = id, c
		case "rail_station":
			s := &dayStation{id: id, at: c}
			stations[id] = s
			g.stations = append(g.stations, s)
		case "reader":
			readers[prop(p, "reader")] = c
			readerBerth[prop(p, "reader")] = prop(p, "fence")
		}
	}
	for _, t := range terms {
		t.craneBerth = map[string]string{}
		for r, c := range readers {
			if strings.HasPrefix(r, t.code+"-QC") {
				t.quay[r] = c
				t.craneBerth[r] = readerBerth[r]
			}
		}
	}
	for i, b := range berths {
		id, _, _ := strings.Cut(b.id, "-berth-")
		if t := terms[id]; t != nil {
			t.berths = append(t.berths, i)
		}
	}
	// Terminals in a fixed order: the map's order is random.
	for _, id := range []string{"nbct", "csct", "msct"} {
		t := terms[id]
		if t == nil || len(t.blocks) == 0 || t.gateID == "" || len(t.quay) == 0 || len(t.berths) == 0 {
			return portGeo{}, fmt.Errorf("sim: port model: terminal %s lacks blocks, gate, crane readers or berths", id)
		}
		t.inland = inlandBearing[id]
		if t.station = stations[stationOf[id]]; t.station == nil {
			return portGeo{}, fmt.Errorf("sim: port model: no rail station %s", stationOf[id])
		}
		g.terminals = append(g.terminals, t)
	}
	return g, nil
}
