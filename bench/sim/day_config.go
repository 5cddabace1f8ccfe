package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"
)

// DayConfig configures the day model (DayGenerator) and RunDay. The zero
// value of every field but Brokers selects its default. The noise rates are
// fractions in [0, 1]; because 0 selects a default, a negative rate means
// never.
type DayConfig struct {
	Brokers []string // Kafka bootstrap addresses; required by RunDay
	// Topics, default port.rfid, port.ais, port.transport and port.customs.
	RFIDTopic, AISTopic, TransportTopic, CustomsTopic string
	// Scale is the share of a real Ningbo-Zhoushan day: 1 (the default) is
	// about 100,000 TEU of quay moves a day (see the package doc), 0.01 a
	// hundredth of the vessel calls, trains and trucks. At most MaxScale.
	Scale float64
	// Duration is the simulated time to generate from Start, default 24h.
	Duration time.Duration
	// Speedup paces RunDay when Rate is 0: simulated seconds per wall
	// second, default 60 (a day in 24 minutes).
	Speedup float64
	// Rate paces RunDay in records/s instead of Speedup when > 0; < 0 is
	// as fast as possible.
	Rate float64
	// Burst, with Rate > 0, sends each Burst period's records at once at
	// the start of the period and then waits (burst mode); 0 spreads them
	// evenly (sustained mode).
	Burst time.Duration
	// Total stops RunDay after this many records; 0 runs to the end of the
	// simulated time (or until ctx is done).
	Total int64
	Seed  int64 // default 1
	// Start is the beginning of the simulated time, default the current
	// time in UTC truncated to the second. Fix it for reproducible traffic.
	Start time.Time
	// Live keeps RunDay's simulated clock from ever running ahead of the
	// wall clock: no record is produced before its production time, so
	// once the clock, paced by Speedup (or Rate) from Start, reaches the
	// wall clock, it goes on in real time. With Start in the past
	// (CatchUpStart), the day replays its past quickly, then runs live.
	Live bool

	// DupRate is the fraction of RFID and port.transport records re-sent
	// a few seconds later (byte-identical), default 0.01.
	DupRate float64
	// LateRate is the fraction of RFID and port.transport records produced
	// 1 to 30 minutes after their event time, so out of order with the
	// rest, default 0.02.
	LateRate float64
	// BadRate is the fraction of RFID and port.transport records followed
	// by a malformed record (the good record is kept), default 0.002.
	BadRate float64
	// TagBlockRate, MultiRecordRate and StationDupRate are the AIS noise
	// (AISConfig's TagBlockRate, MultiRecordRate and DupRate), defaults
	// 0.5, 0.5 and 0.1.
	TagBlockRate, MultiRecordRate, StationDupRate float64

	// Customs, when set, generates customs and e-port traffic for the
	// boxes of the day (see CustomsSource).
	Customs CustomsSource
	// Progress, when set, is called by RunDay about once a second and
	// when it stops, from RunDay's goroutine.
	Progress func(DayProgress)
	Logger   *slog.Logger
	// JT808, when set, sends the truck positions through simulated JT/T
	// 808 terminals connected to a gateway instead of producing them.
	JT808 *JT808Fleet
}

// CatchUpStart is the Start from which a Live run at speedup reaches the
// wall clock after span of simulated time: it runs span/speedup of wall
// time, so it starts span·(speedup−1)/speedup before now. At speedup 1 or
// less it is now: a clock that is not faster never catches up.
func CatchUpStart(now time.Time, span time.Duration, speedup float64) time.Time {
	if !(speedup > 1) || math.IsInf(speedup, 0) || span <= 0 {
		return now
	}
	return now.Add(-time.Duration(float64(span) * (speedup - 1) / speedup))
}

// MaxScale bounds DayConfig.Scale: the generator holds the boxes of about
// eight days of calls in memory, some 70 MB at scale 1.
const MaxScale = 4

func (c DayConfig) withDefaults() DayConfig {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.RFIDTopic, "port.rfid")
	def(&c.AISTopic, "port.ais")
	def(&c.TransportTopic, "port.transport")
	def(&c.CustomsTopic, "port.customs")
	if c.Scale == 0 {
		c.Scale = 1
	}
	if c.Duration == 0 {
		c.Duration = 24 * time.Hour
	}
	if c.Speedup == 0 {
		c.Speedup = 60
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Start.IsZero() {
		c.Start = time.Now().UTC().Truncate(time.Second)
	}
	rate := func(r *float64, v float64) {
		switch {
		case *r == 0:
			*r = v
		case *r < 0:
			*r = 0
		}
	}
	rate(&c.DupRate, 0.01)
	rate(&c.LateRate, 0.02)
	rate(&c.BadRate, 0.002)
	rate(&c.TagBlockRate, 0.5)
	rate(&c.MultiRecordRate, 0.5)
	rate(&c.StationDupRate, 0.1)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks the configuration after applying defaults. Errors name the
// offending field.
func (c DayConfig) Validate() error {
	c = c.withDefaults()
	if len(c.Brokers) == 0 {
		return errors.New("sim: Brokers: no broker address")
	}
	if c.Total < 0 {
		return fmt.Errorf("sim: Total: %d is negative", c.Total)
	}
	if math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		return fmt.Errorf("sim: Rate: %v is not a finite number", c.Rate)
	}
	if !(c.Speedup > 0) || math.IsInf(c.Speedup, 0) {
		return fmt.Errorf("sim: Speedup: %v is not a positive number", c.Speedup)
	}
	if c.Burst < 0 || (c.Burst > 0 && c.Rate <= 0) {
		return fmt.Errorf("sim: Burst: %v needs a positive Rate (got %v)", c.Burst, c.Rate)
	}
	return c.checkGenerator()
}

// checkGenerator checks the fields NewDayGenerator uses; c has its defaults.
func (c DayConfig) checkGenerator() error {
	if !(c.Scale > 0 && c.Scale <= MaxScale) {
		return fmt.Errorf("sim: Scale: %v is outside (0, %d]", c.Scale, MaxScale)
	}
	if c.Duration < time.Minute || c.Duration > 7*24*time.Hour {
		return fmt.Errorf("sim: Duration: %v is outside [1m, 168h]", c.Duration)
	}
	for _, r := range []struct {
		name string
		v    float64
	}{
		{"DupRate", c.DupRate}, {"LateRate", c.LateRate}, {"BadRate", c.BadRate},
		{"TagBlockRate", c.TagBlockRate}, {"MultiRecordRate", c.MultiRecordRate}, {"StationDupRate", c.StationDupRate},
	} {
		if !(r.v >= 0 && r.v <= 1) {
			return fmt.Errorf("sim: %s: %v is outside [0, 1]", r.name, r.v)
		}
	}
	return nil
}
