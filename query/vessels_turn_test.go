package query

import (
	"strings"
	"testing"

	"github.com/porttrack/porttrack/state"
)

// TestVesselJSONTurn: "turn" is the raw rate of turn, −1 and ±127
// included, and is left out only when unknown.
func TestVesselJSONTurn(t *testing.T) {
	for _, tc := range []struct {
		turn int
		want string // "" : no turn key
	}{
		{-1, `"turn":-1,`},
		{127, `"turn":127,`},
		{-127, `"turn":-127,`},
		{0, `"turn":0,`},
		{state.UnknownTurn, ""},
	} {
		v := state.Vessel{MMSI: 413000001, HasPosition: true, Lat: 29.8, Lon: 122.2, Speed: 1, Course: 2,
			Heading: 3, Status: 0, Turn: tc.turn, ShipType: state.UnknownInt, ToBow: state.UnknownInt,
			ToStern: state.UnknownInt, ToPort: state.UnknownInt, ToStarbd: state.UnknownInt}
		b := string(appendVessel(nil, &v, -1))
		if tc.want == "" && strings.Contains(b, `"turn"`) || tc.want != "" && !strings.Contains(b, tc.want) {
			t.Errorf("turn %d: %s", tc.turn, b)
		}
	}
}
