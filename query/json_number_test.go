package query

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// numberCases are values the fast paths must write exactly as strconv does:
// random floats of every magnitude used, values with 1 to 9 decimals, ties
// and near-ties at the rounding digit, signs and zeros.
func numberCases() []float64 {
	rng := rand.New(rand.NewPCG(7, 11))
	vs := []float64{0, math.Copysign(0, -1), 1, -1, 180, -180, 90, -90, 0.05, -0.05, 0.15, 0.25, 2.5, -2.5,
		0.0000001, -0.0000001, 1e-9, 29.93, 121.86, 1e14, -1e14, 1e16, math.MaxFloat64, math.SmallestNonzeroFloat64,
		0.04, -0.04, 0.049999999, 1234.5, 1234.55, 1234.555, 1234.5555}
	for range 200_000 {
		vs = append(vs,
			(rng.Float64()-0.5)*360,
			float64(rng.Int64N(3_600_000_000)-1_800_000_000)/1e7,
			float64(rng.Int64N(2_000_000_000)-1_000_000_000)/math.Pow(10, float64(rng.IntN(10))),
			float64(rng.Int64N(200_000))/20,    // ties at one decimal
			float64(rng.Int64N(2_000_000))/2e3, // ties at two and three decimals
			rng.Float64()*5000,
			math.Float64frombits(rng.Uint64()),
		)
	}
	return vs
}

func TestAppendDegreesMatchesStrconv(t *testing.T) {
	for _, v := range numberCases() {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		want := strconv.FormatFloat(v, 'f', -1, 64)
		if got := string(appendDegrees(nil, v)); got != want {
			t.Fatalf("appendDegrees(%v) = %s, strconv %s", v, got, want)
		}
	}
}

func TestAppendFixedMatchesStrconv(t *testing.T) {
	for _, v := range numberCases() {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		for prec := 1; prec <= 3; prec++ {
			want := strconv.FormatFloat(v, 'f', prec, 64)
			if got := string(appendFixed(nil, v, prec)); got != want {
				t.Fatalf("appendFixed(%v, %d) = %s, strconv %s", v, prec, got, want)
			}
		}
	}
}
