package state

import (
	"errors"
	"testing"
)

const (
	plateA = "浙B12345"
	plateB = "浙B67890"
)

func truck(plate string, t int64, lat, lon float64, container string) TruckReport {
	return TruckReport{Plate: plate, Time: t, Lat: lat, Lon: lon, SpeedKmh: 32.5, Heading: 90, Container: container}
}

// applyTruckBatch applies one batch of truck reports at the next offset.
func applyTruckBatch(t *testing.T, s *Store, rs ...TruckReport) ApplyResult {
	t.Helper()
	next, _, err := s.NextOffset("port.transport", 0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Apply(&Batch{Topic: "port.transport", Next: next + 1, Trucks: rs})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestTruckReportValidate(t *testing.T) {
	good := truck(plateA, 1, 29.9, 121.8, boxA)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	unknown := TruckReport{Plate: plateA, Time: 1, SpeedKmh: UnknownFloat, Heading: UnknownInt}
	if err := unknown.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*TruckReport){
		"plate":     func(r *TruckReport) { r.Plate = "浙b12345" },
		"time":      func(r *TruckReport) { r.Time = 0 },
		"lat":       func(r *TruckReport) { r.Lat = 91 },
		"lon":       func(r *TruckReport) { r.Lon = -181 },
		"speed":     func(r *TruckReport) { r.SpeedKmh = 401 },
		"neg speed": func(r *TruckReport) { r.SpeedKmh = -2 },
		"heading":   func(r *TruckReport) { r.Heading = 360 },
		"container": func(r *TruckReport) { r.Container = "CSQU3054384" },
	} {
		r := good
		mod(&r)
		if r.Validate() == nil {
			t.Errorf("%s: %+v accepted", name, r)
		}
	}
}

func TestTruckPlateParse(t *testing.T) {
	for in, want := range map[string]string{
		"浙B12345":          "浙B12345",
		" 浙b12345\u3000":   "浙B12345",
		"沪ad12345":         "沪AD12345",
		"粤Z1234港":          "粤Z1234港",
		"WJ浙12345":         "WJ浙12345",
		"a":                "A",
		"ABCDEFGHIJKLMNOP": "ABCDEFGHIJKLMNOP",
		"浙B 12345":         "浙B 12345", // inner spaces are kept: loose
	} {
		got, err := ParsePlate(in)
		if err != nil || got != want {
			t.Errorf("ParsePlate(%q) = %q, %v; want %q", in, got, err, want)
		}
		if CheckPlate(got) != nil {
			t.Errorf("ParsePlate(%q) = %q fails CheckPlate", in, got)
		}
	}
	for _, in := range []string{"", "   ", "ABCDEFGHIJKLMNOPQ", "浙B\x0012345", "浙B\n12345", "浙B/12345", "\xff\xfe", "浙B12\u008512345"} {
		if got, err := ParsePlate(in); !errors.Is(err, ErrPlateFormat) {
			t.Errorf("ParsePlate(%q) = %q, %v; want ErrPlateFormat", in, got, err)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = CheckPlate(plateA) }); n != 0 {
		t.Errorf("CheckPlate allocates %v times", n)
	}
}
