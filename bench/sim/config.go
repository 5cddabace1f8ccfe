package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/porttrack/porttrack/ingest/rfid"
)

// maxContainers bounds the fleet: ContainerNumbers draws distinct numbers by
// rejection from len(ownerCodes) million, which stays cheap up to this size.
const maxContainers = 1_000_000

// Config configures the traffic generator and Run. The zero value of every
// field but Brokers selects its default.
type Config struct {
	Brokers []string // Kafka bootstrap addresses; required by Run
	Topic   string   // default "port.rfid"
	// Rate is the target rate in records/s; <= 0 means as fast as possible.
	Rate float64
	// Total stops Run after this many records; 0 runs until ctx is done.
	Total      int64
	Containers int   // fleet size, default 3000
	Seed       int64 // default 1
	// BadRate is the fraction of malformed records and DupRate the fraction
	// of duplicate re-sends, each in [0, 1] with a sum of at most 1.
	BadRate float64
	DupRate float64
	// Readers is the reader table, default rfid.DefaultReaders(). It needs
	// at least one terminal site (see the package doc).
	Readers map[string]rfid.Reader
	// Start is the event time of the first event, default the current time
	// in UTC truncated to the second.
	Start  time.Time
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Topic == "" {
		c.Topic = "port.rfid"
	}
	if c.Containers == 0 {
		c.Containers = 3000
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Readers == nil {
		c.Readers = rfid.DefaultReaders()
	}
	if c.Start.IsZero() {
		c.Start = time.Now().UTC().Truncate(time.Second)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks the configuration after applying defaults. Errors name the
// offending field.
func (c Config) Validate() error {
	c = c.withDefaults()
	if err := checkStream(c.Brokers, c.Total, c.Rate); err != nil {
		return err
	}
	return c.checkGenerator()
}

// checkStream checks the producing settings every generator shares.
func checkStream(brokers []string, total int64, rate float64) error {
	if len(brokers) == 0 {
		return errors.New("sim: Brokers: no broker address")
	}
	if total < 0 {
		return fmt.Errorf("sim: Total: %d is negative", total)
	}
	if math.IsNaN(rate) || math.IsInf(rate, 0) {
		return fmt.Errorf("sim: Rate: %v is not a finite number", rate)
	}
	return nil
}

// checkGenerator checks the fields NewGenerator uses; c has its defaults.
func (c Config) checkGenerator() error {
	if c.Containers < 1 || c.Containers > maxContainers {
		return fmt.Errorf("sim: Containers: %d is outside [1, %d]", c.Containers, maxContainers)
	}
	if !(c.BadRate >= 0 && c.BadRate <= 1) {
		return fmt.Errorf("sim: BadRate: %v is outside [0, 1]", c.BadRate)
	}
	if !(c.DupRate >= 0 && c.DupRate <= 1) {
		return fmt.Errorf("sim: DupRate: %v is outside [0, 1]", c.DupRate)
	}
	if c.BadRate+c.DupRate > 1 {
		return fmt.Errorf("sim: DupRate: BadRate+DupRate = %v exceeds 1", c.BadRate+c.DupRate)
	}
	for id, r := range c.Readers {
		if !jsonSafe(id) {
			return fmt.Errorf("sim: Readers: id %q: want printable ASCII without quotes or backslashes", id)
		}
		if err := r.Validate(); err != nil {
			return fmt.Errorf("sim: Readers: %s: %w", id, err)
		}
		if !jsonSafe(r.Facility) {
			return fmt.Errorf("sim: Readers: %s: facility %q: want printable ASCII without quotes or backslashes", id, r.Facility)
		}
	}
	if terminals, _ := sites(c.Readers); len(terminals) == 0 {
		return errors.New("sim: Readers: no terminal site with gate, LOAD and DISC readers")
	}
	return nil
}

// jsonSafe reports whether s can be written into a JSON string unescaped.
func jsonSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
