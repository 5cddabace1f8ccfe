package ingest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// logAssignment logs at WARN when this node's assignment differs from the
// one last logged (prev): the topics and partitions it owns now and how
// many members share the group, so that a second process joining the same
// group by mistake (each then sees part of the partitions) shows in the log
// of both. It returns the assignment to compare the next one with.
func (e *Engine) logAssignment(ctx context.Context, generation int32, parts, prev []tp) []tp {
	cur := slices.Clone(parts)
	slices.SortFunc(cur, func(a, b tp) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.partition - b.partition)
	})
	if prev != nil && slices.Equal(cur, prev) {
		e.log.Info("consumer group generation", "group", e.cfg.GroupID, "generation", generation, "partitions", len(cur))
		return cur
	}
	members := "unknown"
	if n, err := e.groupMembers(ctx); err == nil {
		members = strconv.Itoa(n)
	} else {
		e.log.Debug("describing the consumer group", "group", e.cfg.GroupID, "err", err)
	}
	e.log.Warn("consumer group assignment changed: this node owns only the partitions listed; the group's other members own the rest",
		"group", e.cfg.GroupID, "generation", generation, "members", members, "partitions", len(cur), "owns", formatAssignment(cur))
	if cur == nil {
		cur = []tp{} // logged: an empty assignment is not "none yet"
	}
	return cur
}

// formatAssignment writes "port.ais[0,1] port.rfid[2]" (sorted parts).
func formatAssignment(parts []tp) string {
	if len(parts) == 0 {
		return "nothing"
	}
	var b strings.Builder
	for i, p := range parts {
		if i == 0 || parts[i-1].topic != p.topic {
			if i > 0 {
				b.WriteString("] ")
			}
			b.WriteString(p.topic)
			b.WriteByte('[')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(p.partition)))
	}
	b.WriteByte(']')
	return b.String()
}

// groupMembers asks the group coordinator how many members the group has.
func (e *Engine) groupMembers(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c := &kafka.Client{Addr: kafka.TCP(e.cfg.Brokers...), Timeout: 5 * time.Second}
	resp, err := c.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{e.cfg.GroupID}})
	if err != nil {
		return 0, err
	}
	for _, g := range resp.Groups {
		if g.GroupID == e.cfg.GroupID {
			if g.Error != nil {
				return 0, g.Error
			}
			return len(g.Members), nil
		}
	}
	return 0, fmt.Errorf("group %q not described", e.cfg.GroupID)
}

// setNotReady records why the engine cannot be ready yet ("" clears it).
func (e *Engine) setNotReady(reason string) {
	e.mu.Lock()
	e.mu.notReady = reason
	e.mu.Unlock()
}

// NotReadyReason says why Ready is false ("" when it is true): no broker
// answering the topic lookup (with the error and the next retry), no
// assignment yet, or partitions still catching up.
func (e *Engine) NotReadyReason() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mu.notReady != "" {
		return e.mu.notReady
	}
	if !e.mu.joined {
		return "waiting for the partition assignment"
	}
	behind := 0
	for _, ps := range e.mu.partitions {
		if !ps.caughtUp.Load() {
			behind++
		}
	}
	if behind == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d assigned partitions catching up", behind, len(e.mu.partitions))
}
