package geo

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

var port = LatLng{29.93, 121.85}

// offset moves p by north/east metres (small-distance approximation; the
// tests only need points somewhere near p).
func offset(p LatLng, northM, eastM float64) LatLng {
	const m = 180 / math.Pi / EarthRadiusM
	return LatLng{p.Lat + northM*m, p.Lng + eastM*m/math.Cos(p.Lat*math.Pi/180)}
}

// dest is the point distM from p along the initial bearing (degrees), on
// the sphere: it works across the antimeridian and over a pole.
func dest(p LatLng, bearingDeg, distM float64) LatLng {
	const rad = math.Pi / 180
	la, lo, b, d := p.Lat*rad, p.Lng*rad, bearingDeg*rad, distM/EarthRadiusM
	la2 := math.Asin(math.Sin(la)*math.Cos(d) + math.Cos(la)*math.Sin(d)*math.Cos(b))
	lo2 := lo + math.Atan2(math.Sin(b)*math.Sin(d)*math.Cos(la), math.Cos(d)-math.Sin(la)*math.Sin(la2))
	return LatLng{la2 / rad, math.Remainder(lo2/rad, 360)}
}

type hit[ID cmp.Ordered] struct {
	id ID
	p  LatLng
	d  float64
}

func collect[ID cmp.Ordered](t *testing.T, query func(fn func(ID, LatLng, float64) bool) error) []hit[ID] {
	t.Helper()
	var out []hit[ID]
	if err := query(func(id ID, p LatLng, d float64) bool {
		out = append(out, hit[ID]{id, p, d})
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// brute is the definition Nearby must meet: every point by distance, then ID.
func brute[ID cmp.Ordered](pts map[ID]LatLng, center LatLng, radiusM float64, limit int) []hit[ID] {
	var all []hit[ID]
	for id, p := range pts {
		if d := DistanceMeters(center, p); d <= radiusM {
			all = append(all, hit[ID]{id, p, d})
		}
	}
	slices.SortFunc(all, func(a, b hit[ID]) int {
		if c := cmp.Compare(a.d, b.d); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	return all
}

// cut derives a brute answer from a full sorted one.
func cut[ID cmp.Ordered](all []hit[ID], radiusM float64, limit int) []hit[ID] {
	n, _ := slices.BinarySearchFunc(all, radiusM, func(h hit[ID], r float64) int {
		if h.d <= r {
			return -1
		}
		return 1
	})
	if limit > 0 {
		n = min(n, limit)
	}
	return all[:n]
}

func sameHits[ID cmp.Ordered](t *testing.T, what string, got, want []hit[ID]) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d results, want %d\n got %v\nwant %v", what, len(got), len(want), head(got), head(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: result %d = %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

func head[T any](s []T) []T { return s[:min(len(s), 5)] }

// portCloud is a seeded mix of what the port looks like, by share of
// points: 40% ships and trucks spread over ±8 km, 45% boxes in yard clusters
// (200 within a few metres), 10% stacks at the very same position, and 5%
// exactly on cell vertices, edge midpoints and centres, where H3's
// assignment is decided by rounding.
func portCloud(rng *rand.Rand, n int, res Resolution) []LatLng {
	pts := make([]LatLng, 0, n)
	for len(pts) < n {
		// Groups are drawn in proportion to share/size.
		switch r := rng.Float64() * (0.40/1 + 0.45/200 + 0.10/30 + 0.05/13); {
		case r < 0.40: // spread over ±8 km
			pts = append(pts, offset(port, (rng.Float64()*2-1)*8000, (rng.Float64()*2-1)*8000))
		case r < 0.40+0.45/200: // yard cluster: 200 boxes within ±15 m
			c := offset(port, (rng.Float64()*2-1)*3000, (rng.Float64()*2-1)*3000)
			for range 200 {
				pts = append(pts, offset(c, rng.NormFloat64()*5, rng.NormFloat64()*5))
			}
		case r < 0.40+0.45/200+0.10/30: // stack: 30 boxes at one position
			c := offset(port, (rng.Float64()*2-1)*3000, (rng.Float64()*2-1)*3000)
			for range 30 {
				pts = append(pts, c)
			}
		default: // on a cell's vertices, edge midpoints and centre
			c, _ := CellOf(offset(port, (rng.Float64()*2-1)*2000, (rng.Float64()*2-1)*2000), res)
			b := c.Boundary(nil)
			pts = append(pts, c.Center())
			for i, v := range b {
				w := b[(i+1)%len(b)]
				pts = append(pts, v, LatLng{(v.Lat + w.Lat) / 2, (v.Lng + w.Lng) / 2})
			}
		}
	}
	return pts[:n]
}

func TestNearbyMatchesBruteForce(t *testing.T) {
	for _, res := range []Resolution{9, ResPoint, 13} {
		t.Run(fmt.Sprintf("res=%d", res), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(res), 7))
			n := 20000
			if testing.Short() {
				n = 5000
			}
			x, err := NewIndex[uint64](res)
			if err != nil {
				t.Fatal(err)
			}
			pts := make(map[uint64]LatLng, n)
			for i, p := range portCloud(rng, n, res) {
				id := uint64(rng.Uint32()) // collisions make Set a move
				if err := x.Set(id, p); err != nil {
					t.Fatal(err)
				}
				pts[id] = p
				_ = i
			}
			if x.Len() != len(pts) {
				t.Fatalf("Len = %d, want %d", x.Len(), len(pts))
			}
			ids := make([]uint64, 0, len(pts))
			for id := range pts {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			queries, ringOnly := 0, 0
			radii := []float64{0, 0.5, 5, 30, 120, 600, 2500, 20000, math.Inf(1)}
			limits := []int{0, 1, 3, 50}
			for q := range 40 {
				var center LatLng
				switch q % 3 {
				case 0: // anywhere
					center = offset(port, (rng.Float64()*2-1)*9000, (rng.Float64()*2-1)*9000)
				case 1: // on a point (distance 0, stacks, ties by ID)
					center = pts[ids[rng.IntN(len(ids))]]
				default: // on a cell vertex
					c, _ := CellOf(offset(port, (rng.Float64()*2-1)*2000, (rng.Float64()*2-1)*2000), res)
					center = c.Boundary(nil)[rng.IntN(6)]
				}
				all := brute(pts, center, math.Inf(1), 0)
				for _, r := range radii {
					for _, lim := range limits {
						if r > 3000 && lim == 0 {
							continue // the whole index, sorted: covered by radius 2500 and the scan test
						}
						what := fmt.Sprintf("Nearby(%v, %v m, limit %d)", center, r, lim)
						got := collect(t, func(fn func(uint64, LatLng, float64) bool) error { return x.Nearby(center, r, lim, fn) })
						sameHits(t, what, got, cut(all, r, lim))
						queries++
						if lim <= 0 {
							lim = math.MaxInt
						}
						if !x.search(center, r, lim).scanned {
							ringOnly++
						}
					}
				}
				for _, k := range []int{1, 7, 100} {
					got := collect(t, func(fn func(uint64, LatLng, float64) bool) error { return x.KNearest(center, k, fn) })
					sameHits(t, fmt.Sprintf("KNearest(%v, %d)", center, k), got, cut(all, math.Inf(1), k))
				}
			}
			// Exactness would be trivial if every query scanned.
			if ringOnly < queries/2 {
				t.Errorf("only %d of %d queries answered by the ring walk", ringOnly, queries)
			}
			t.Logf("%d queries, %d by rings alone", queries, ringOnly)
		})
	}
}

func TestIndexSetMoveDelete(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	x, _ := NewIndex[string](ResPoint)
	want := map[string]LatLng{}
	for step := range 20000 {
		id := fmt.Sprintf("MSCU%07d", rng.IntN(500))
		switch rng.IntN(4) {
		case 0:
			if got, ok := x.Delete(id), want[id] != (LatLng{}); got != ok {
				t.Fatalf("step %d: Delete(%s) = %v, want %v", step, id, got, ok)
			}
			delete(want, id)
		case 1: // small move, often within the same cell
			p, ok := want[id]
			if !ok {
				p = port
			}
			p = offset(p, rng.NormFloat64()*3, rng.NormFloat64()*3)
			if err := x.Set(id, p); err != nil {
				t.Fatal(err)
			}
			want[id] = p
		default:
			p := offset(port, rng.NormFloat64()*300, rng.NormFloat64()*300)
			if err := x.Set(id, p); err != nil {
				t.Fatal(err)
			}
			want[id] = p
		}
	}
	if x.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", x.Len(), len(want))
	}
	for id, p := range want {
		if got, ok := x.Get(id); !ok || got != p {
			t.Fatalf("Get(%s) = %v, %v; want %v", id, got, ok, p)
		}
	}
	// Buckets and items agree both ways, and empty buckets are gone.
	n := 0
	for c, b := range x.cells {
		if len(b.ids) == 0 || len(b.ids) != len(b.pts) {
			t.Fatalf("cell %v: %d ids, %d points", c, len(b.ids), len(b.pts))
		}
		for i, id := range b.ids {
			it := x.items[id]
			if it.cell != c || it.slot != i || it.p != b.pts[i] {
				t.Fatalf("id %s: item %+v, found in %v slot %d", id, it, c, i)
			}
			n++
		}
	}
	if n != len(want) {
		t.Fatalf("%d ids in buckets, want %d", n, len(want))
	}
	got := collect(t, func(fn func(string, LatLng, float64) bool) error { return x.Nearby(port, 400, 0, fn) })
	sameHits(t, "Nearby after churn", got, brute(want, port, 400, 0))
}

// Far from Ningbo the walk meets the antimeridian, a pole and a pentagon.
func TestNearbyAwayFromPort(t *testing.T) {
	for _, c := range []LatLng{{-16.5, 179.9995}, {89.9995, 0}, {39.1, 122.3}, {10.447353, 58.157706}} {
		t.Run(c.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(2, 2))
			x, _ := NewIndex[int](ResPoint)
			pts := map[int]LatLng{}
			for i := range 3000 {
				p := dest(c, rng.Float64()*360, math.Abs(rng.NormFloat64())*150)
				if err := x.Set(i, p); err != nil {
					t.Fatal(err)
				}
				pts[i] = p
			}
			for _, r := range []float64{0, 10, 60, 250} {
				for _, lim := range []int{0, 1, 10} {
					got := collect(t, func(fn func(int, LatLng, float64) bool) error { return x.Nearby(c, r, lim, fn) })
					sameHits(t, fmt.Sprintf("r=%v lim=%d", r, lim), got, brute(pts, c, r, lim))
				}
			}
		})
	}
}

func TestNearbyEdges(t *testing.T) {
	x, _ := NewIndex[uint64](ResPoint)
	calls := 0
	count := func(uint64, LatLng, float64) bool { calls++; return true }
	if err := x.Nearby(port, 100, 5, count); err != nil || calls != 0 {
		t.Fatalf("empty index: %v, %d calls", err, calls)
	}
	for i := range uint64(10) {
		_ = x.Set(i, offset(port, float64(i), 0))
	}
	if err := x.Nearby(LatLng{91, 0}, 1, 1, count); !errors.Is(err, ErrInvalidLatLng) {
		t.Errorf("invalid centre: %v", err)
	}
	for _, r := range []float64{-1, math.NaN()} {
		if err := x.Nearby(port, r, 1, count); !errors.Is(err, ErrInvalidRadius) {
			t.Errorf("radius %v: %v", r, err)
		}
	}
	if err := x.Set(1, LatLng{0, math.NaN()}); !errors.Is(err, ErrInvalidLatLng) {
		t.Errorf("Set NaN: %v", err)
	}
	if err := x.KNearest(port, 0, count); err != nil || calls != 0 {
		t.Errorf("k=0: %v, %d calls", err, calls)
	}
	// fn returning false stops the iteration.
	calls = 0
	_ = x.KNearest(port, 10, func(uint64, LatLng, float64) bool { calls++; return calls < 3 })
	if calls != 3 {
		t.Errorf("stopped after %d calls, want 3", calls)
	}
	if _, err := NewIndex[int](16); !errors.Is(err, ErrInvalidResolution) {
		t.Errorf("NewIndex(16): %v", err)
	}
}

func TestTopK(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, limit := range []int{1, 2, 5, 64} {
		top := &topK[int]{limit: limit}
		var all []hit[int]
		for i := range 1000 {
			d := float64(rng.IntN(50)) // many ties
			top.offer(i, LatLng{}, d)
			all = append(all, hit[int]{i, LatLng{}, d})
		}
		slices.SortFunc(all, func(a, b hit[int]) int { return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(a.id, b.id)) })
		var got []hit[int]
		top.emit(func(id int, p LatLng, d float64) bool { got = append(got, hit[int]{id, p, d}); return true })
		sameHits(t, fmt.Sprintf("limit %d", limit), got, all[:limit])
	}
}

func TestDistanceMeters(t *testing.T) {
	for _, tc := range []struct {
		a, b LatLng
		want float64
	}{
		{LatLng{0, 0}, LatLng{0, 1}, 2 * math.Pi * EarthRadiusM / 360},
		{LatLng{90, 0}, LatLng{-90, 0}, math.Pi * EarthRadiusM},
		{LatLng{0, 179.5}, LatLng{0, -179.5}, 2 * math.Pi * EarthRadiusM / 360},
		{port, port, 0},
	} {
		if got := DistanceMeters(tc.a, tc.b); math.Abs(got-tc.want) > 0.1 {
			t.Errorf("DistanceMeters(%v, %v) = %.3f, want %.3f", tc.a, tc.b, got, tc.want)
		}
	}
	// Against Vincenty's formula on the sphere, a different route to the
	// same quantity, over the port's distances and beyond.
	rng := rand.New(rand.NewPCG(5, 5))
	for range 1000 {
		a := dest(port, rng.Float64()*360, rng.Float64()*50000)
		b := dest(a, rng.Float64()*360, math.Pow(10, rng.Float64()*7))
		const rad = math.Pi / 180
		dl := (b.Lng - a.Lng) * rad
		s1, c1, s2, c2 := math.Sin(a.Lat*rad), math.Cos(a.Lat*rad), math.Sin(b.Lat*rad), math.Cos(b.Lat*rad)
		want := EarthRadiusM * math.Atan2(math.Hypot(c2*math.Sin(dl), c1*s2-s1*c2*math.Cos(dl)), s1*s2+c1*c2*math.Cos(dl))
		if got := DistanceMeters(a, b); math.Abs(got-want) > 1e-6*max(1, want) {
			t.Fatalf("DistanceMeters(%v, %v) = %.6f, Vincenty %.6f", a, b, got, want)
		}
	}
}

func TestNewLatLng(t *testing.T) {
	for _, tc := range []struct {
		lat, lng float64
		ok       bool
	}{
		{29.93, 121.85, true}, {90, 180, true}, {-90, -180, true},
		{90.0001, 0, false}, {0, -180.0001, false}, {math.NaN(), 0, false},
		{0, math.Inf(1), false},
	} {
		_, err := NewLatLng(tc.lat, tc.lng)
		if (err == nil) != tc.ok {
			t.Errorf("NewLatLng(%v, %v) = %v, want ok=%v", tc.lat, tc.lng, err, tc.ok)
		}
		if tc.ok != (LatLng{tc.lat, tc.lng}).Valid() {
			t.Errorf("Valid(%v, %v) != %v", tc.lat, tc.lng, tc.ok)
		}
	}
	if _, err := CellOf(LatLng{0, 200}, ResPoint); !errors.Is(err, ErrInvalidLatLng) {
		t.Errorf("CellOf lng 200: %v", err)
	}
	if _, err := CellsOf(nil, []LatLng{port, {math.NaN(), 0}}, ResPoint); !errors.Is(err, ErrInvalidLatLng) {
		t.Errorf("CellsOf NaN: %v", err)
	}
	if _, err := ParseCell("8928308280fffffx"); !errors.Is(err, ErrInvalidCell) {
		t.Errorf("ParseCell junk: %v", err)
	}
}
