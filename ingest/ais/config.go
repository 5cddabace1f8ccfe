package ais

import (
	"fmt"
	"time"
)

// Defaults of Config.
const (
	DefaultFragmentTTL   = 5 * time.Second
	DefaultFragmentLines = 100
	DefaultMaxGroups     = 128
)

// Config configures a Decoder. The zero value selects the defaults: strict
// sentence checksums, fake *00 tag checksums accepted, fragments expiring
// after 5 s (or 100 lines without a clock), 128 groups in flight.
type Config struct {
	// Lenient accepts sentences and tag blocks whose checksum is wrong or
	// missing. They are counted all the same (Stats.BadChecksum,
	// Stats.BadTagChecksum). Meant for a source known to mangle checksums.
	Lenient bool
	// RejectFakeTagChecksum rejects a tag block whose checksum is *00 but
	// does not match. By default such a block is accepted and counted
	// (Stats.FakeTagChecksum): some feeds never compute the tag checksum.
	RejectFakeTagChecksum bool
	// FragmentTTL is how long an incomplete multi-part message waits for
	// its other fragments; default 5 s.
	FragmentTTL time.Duration
	// FragmentLines stands in for FragmentTTL when a group has no clock
	// (no tag block c:, no receive time: a plain log file): the group
	// expires once this many further lines have been fed. Default 100;
	// fragments of one message are rarely more than a few lines apart.
	FragmentLines int
	// MaxGroups bounds the incomplete multi-part messages held at once;
	// when full, the oldest is evicted. Default 128.
	MaxGroups int
}

// maxMaxGroups keeps a Decoder's fixed reassembly memory (about 400 bytes a
// group) reasonable.
const maxMaxGroups = 1 << 16

func (c Config) withDefaults() Config {
	if c.FragmentTTL == 0 {
		c.FragmentTTL = DefaultFragmentTTL
	}
	if c.FragmentLines == 0 {
		c.FragmentLines = DefaultFragmentLines
	}
	if c.MaxGroups == 0 {
		c.MaxGroups = DefaultMaxGroups
	}
	return c
}

// Validate reports a setting out of range. Zero values are valid: they
// select the defaults.
func (c Config) Validate() error {
	if c.FragmentTTL < 0 {
		return fmt.Errorf("ais: FragmentTTL %v is negative", c.FragmentTTL)
	}
	if c.FragmentLines < 0 {
		return fmt.Errorf("ais: FragmentLines %d is negative", c.FragmentLines)
	}
	if c.MaxGroups < 0 || c.MaxGroups > maxMaxGroups {
		return fmt.Errorf("ais: MaxGroups %d out of range 0..%d", c.MaxGroups, maxMaxGroups)
	}
	return nil
}
