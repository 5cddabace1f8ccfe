package ingest

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/porttrack/porttrack/ingest/ais"
	"github.com/porttrack/porttrack/ingest/customs"
	"github.com/porttrack/porttrack/ingest/rfid"
)

// Topics names the Kafka topics the engine reads and writes.
type Topics struct {
	RFID string // input: container RFID reads and EPCIS events
	// AIS is the input topic of raw NMEA AIS sentences; "-" disables it.
	AIS string
	// Transport is the input topic of truck positions, waybills, rail and
	// barge messages; "-" disables it.
	Transport string
	// Customs is the input topic of customs and CEB messages; "-" disables it.
	Customs string
	DLQ     string // output: records that could not be decoded, with the reason
}

// Config configures an Engine. Zero values take the defaults of withDefaults.
type Config struct {
	Brokers []string
	// GroupID is the consumer group. Empty means no group: this node owns
	// every partition of the input topics (one-node deployments and tests).
	GroupID string
	Topics  Topics
	// MaxRecordBytes bounds a record value; larger ones are dead-lettered
	// (reason "oversize"). Default 256 KiB.
	MaxRecordBytes int
	// DeadLetterMaxBytes bounds the original value (and key) a dead letter
	// carries: a longer one is cut to this prefix, with the headers
	// value-truncated, value-size and value-sha256. Default 64 KiB.
	DeadLetterMaxBytes int
	// MaxBatchBytes bounds the decompressed size of one record batch: the
	// rest of a batch past it is dead-lettered as one range (reason
	// "oversize") without being decoded. Default 1 GiB.
	MaxBatchBytes int64
	// OutboxDegradedAfter is the age of the oldest unpublished outbox
	// entry past which Degraded reports the outbox. Default 1m.
	OutboxDegradedAfter time.Duration
	// Readers is the RFID reader table; nil means rfid.DefaultReaders().
	Readers map[string]rfid.Reader
	// AIS configures the AIS decoder (checksum policy, fragment expiry).
	AIS ais.Config
	// Customs configures the customs decoder (trusted signing certificates).
	Customs customs.Config
	// CustomsTick is how often incomplete-order deadlines are checked when
	// no customs record arrives. Default 1s.
	CustomsTick time.Duration
	// Deadlines are checked every CustomsTick (the customs domain,
	// portstate.State.Customs); nil: no tick.
	Deadlines Deadlines

	// FetchMaxBytes and FetchMaxWait bound one fetch from a partition.
	FetchMaxBytes int
	FetchMaxWait  time.Duration
	// Consumer group timings (kafka-go ConsumerGroupConfig).
	HeartbeatInterval time.Duration
	SessionTimeout    time.Duration
	RebalanceTimeout  time.Duration
	JoinGroupBackoff  time.Duration
	// RetryBackoff is the pause before a partition reconnects after an error.
	RetryBackoff time.Duration
	// ConnectBackoff is the first pause before the input topics are looked
	// up again while no broker answers (or none of them exists), and before
	// a failing partition reconnects; each further failure doubles it, up
	// to ConnectBackoffMax. Defaults 250ms and 30s.
	ConnectBackoff    time.Duration
	ConnectBackoffMax time.Duration

	Logger *slog.Logger
}

// Defaults.
const (
	DefaultMaxRecordBytes      = 256 << 10
	DefaultDeadLetterMaxBytes  = 64 << 10
	DefaultMaxBatchBytes       = 1 << 30
	DefaultOutboxDegradedAfter = time.Minute
	DefaultRFIDTopic           = "port.rfid"
	DefaultDLQTopic            = "porttrack.dlq"
	DefaultAISTopic            = "port.ais"
	DefaultTransportTopic      = "port.transport"
	DefaultCustomsTopic        = "port.customs"
)

func (c Config) withDefaults() Config {
	if c.Topics.RFID == "" {
		c.Topics.RFID = DefaultRFIDTopic
	}
	if c.Topics.AIS == "" {
		c.Topics.AIS = DefaultAISTopic
	}
	if c.Topics.Transport == "" {
		c.Topics.Transport = DefaultTransportTopic
	}
	if c.Topics.Customs == "" {
		c.Topics.Customs = DefaultCustomsTopic
	}
	if c.CustomsTick == 0 {
		c.CustomsTick = time.Second
	}
	if c.Topics.DLQ == "" {
		c.Topics.DLQ = DefaultDLQTopic
	}
	if c.MaxRecordBytes == 0 {
		c.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if c.DeadLetterMaxBytes == 0 {
		c.DeadLetterMaxBytes = DefaultDeadLetterMaxBytes
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if c.OutboxDegradedAfter == 0 {
		c.OutboxDegradedAfter = DefaultOutboxDegradedAfter
	}
	if c.Readers == nil {
		c.Readers = rfid.DefaultReaders()
	}
	if c.FetchMaxBytes == 0 {
		c.FetchMaxBytes = 4 << 20
	}
	if c.FetchMaxWait == 0 {
		c.FetchMaxWait = 250 * time.Millisecond
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 1 * time.Second
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 10 * time.Second
	}
	if c.RebalanceTimeout == 0 {
		c.RebalanceTimeout = 10 * time.Second
	}
	if c.JoinGroupBackoff == 0 {
		c.JoinGroupBackoff = 500 * time.Millisecond
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = 500 * time.Millisecond
	}
	if c.ConnectBackoff == 0 {
		c.ConnectBackoff = 250 * time.Millisecond
	}
	if c.ConnectBackoffMax == 0 {
		c.ConnectBackoffMax = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks the configuration after defaults; errors name the field.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("brokers: at least one broker address is required"))
	}
	for _, b := range c.Brokers {
		if b == "" {
			errs = append(errs, errors.New("brokers: empty broker address"))
		}
	}
	if c.Topics.RFID == c.Topics.DLQ || c.Topics.AIS == c.Topics.DLQ {
		errs = append(errs, fmt.Errorf("topics.dlq: must differ from the input topics"))
	}
	if c.Topics.RFID == c.Topics.AIS {
		errs = append(errs, fmt.Errorf("topics.ais: must differ from topics.rfid %q", c.Topics.RFID))
	}
	if t := c.Topics.Transport; t != "-" && (t == c.Topics.RFID || t == c.Topics.AIS || t == c.Topics.DLQ) {
		errs = append(errs, fmt.Errorf("topics.transport: %q must differ from topics.rfid, topics.ais and topics.dlq", t))
	}
	if t := c.Topics.Customs; t != "-" && (t == c.Topics.RFID || t == c.Topics.AIS || t == c.Topics.Transport || t == c.Topics.DLQ) {
		errs = append(errs, fmt.Errorf("topics.customs: %q must differ from the other input topics and topics.dlq", t))
	}
	if c.CustomsTick < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("customs_tick: %s is below 10ms", c.CustomsTick))
	}
	if err := c.AIS.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("ais: %w", err))
	}
	if c.MaxRecordBytes < 1 || c.MaxRecordBytes > 64<<20 {
		errs = append(errs, fmt.Errorf("max_record_bytes: %d out of range [1, 64 MiB]", c.MaxRecordBytes))
	}
	if c.DeadLetterMaxBytes < 0 || c.DeadLetterMaxBytes > 512<<10 {
		errs = append(errs, fmt.Errorf("dead_letter_max_bytes: %d out of range [0 (default), 512 KiB]", c.DeadLetterMaxBytes))
	}
	if c.MaxBatchBytes < int64(c.MaxRecordBytes) || c.MaxBatchBytes > 16<<30 {
		errs = append(errs, fmt.Errorf("max_batch_bytes: %d out of range [max_record_bytes %d, 16 GiB]", c.MaxBatchBytes, c.MaxRecordBytes))
	}
	if c.OutboxDegradedAfter < time.Second {
		errs = append(errs, fmt.Errorf("outbox_degraded_after: %s is below 1s", c.OutboxDegradedAfter))
	}
	if c.FetchMaxBytes < 1024 || c.FetchMaxBytes > 256<<20 {
		errs = append(errs, fmt.Errorf("fetch_max_bytes: %d out of range [1024, 256 MiB]", c.FetchMaxBytes))
	}
	if c.FetchMaxWait < time.Millisecond || c.FetchMaxWait > 30*time.Second {
		errs = append(errs, fmt.Errorf("fetch_max_wait: %s out of range [1ms, 30s]", c.FetchMaxWait))
	}
	if c.ConnectBackoff < time.Millisecond || c.ConnectBackoffMax < c.ConnectBackoff {
		errs = append(errs, fmt.Errorf("connect_backoff: need 1ms <= connect_backoff <= connect_backoff_max (got %s, %s)", c.ConnectBackoff, c.ConnectBackoffMax))
	}
	if c.HeartbeatInterval >= c.SessionTimeout {
		errs = append(errs, fmt.Errorf("heartbeat_interval: %s must be shorter than session_timeout %s", c.HeartbeatInterval, c.SessionTimeout))
	}
	if err := (rfid.Config{Readers: c.Readers}).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("readers: %w", err))
	}
	return errors.Join(errs...)
}
