package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porttrack/porttrack/state"
)

// TestKcatZstdZerosKeepOutboxMoving is issue 14's reproduction: kcat sends
// 2 MB of zeros zstd-compressed (a few KB on the wire) to port.rfid. The
// record is dead-lettered oversize with a 64 KiB prefix and the size and
// SHA-256 of the whole value, and the outbox keeps publishing: the derived
// event of a good record sent after it is published too, and /readyz
// reports nothing degraded.
func TestKcatZstdZerosKeepOutboxMoving(t *testing.T) {
	kcat := requireKcat(t)
	d := startDemo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const size = 2000000
	zeros := filepath.Join(t.TempDir(), "z")
	if err := os.WriteFile(zeros, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, kcat, "-P", "-b", d.broker, "-t", "port.rfid", "-k", "X", "-z", "zstd",
		"-X", "message.max.bytes=100000000", zeros)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, b)
	}

	serial := "PTKU200001"
	box := serial + string(state.ContainerCheckDigit(serial))
	event := fmt.Sprintf(`{"type":"ObjectEvent","eventID":"urn:uuid:6f1d7c1e-0000-4000-8000-00000000e14a","eventTime":%q,`+
		`"eventTimeZoneOffset":"+08:00","epcList":["urn:epc:id:bic:%s"],"action":"OBSERVE","bizStep":"arriving",`+
		`"readPoint":{"id":"BLCT-GATE-L1"},"bizLocation":{"id":"CNNGB-BLCT-GATE"}}`+"\n",
		time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"), box)
	kcatProduce(ctx, t, kcat, d.broker, "port.rfid", box, event)

	// The dead letter and the good record's derived events are published:
	// nothing stays in the outbox.
	waitFor(t, 20*time.Second, func() (bool, string) {
		d.exited(t)
		m, err := scrape(d.base + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		dl := series(m, "porttrack_ingest_records_dead_lettered_total", "reason", "oversize")
		pub, age := m["porttrack_outbox_published_total"], m["porttrack_outbox_oldest_age_seconds"]
		var oversize float64
		for _, v := range dl {
			oversize += v
		}
		code, _, _ := httpGet(d.base + "/v1/containers/" + box)
		return oversize == 1 && pub >= 2 && age == 0 && code == http.StatusOK,
			fmt.Sprintf("oversize dead letters %v, published %v, oldest age %v, container %d", dl, pub, age, code)
	})

	// The dead letter as a consumer sees it.
	out, err := exec.CommandContext(ctx, kcat, "-C", "-b", d.broker, "-t", "porttrack.dlq", "-o", "beginning", "-e",
		"-f", "%S|%h\n").Output()
	if err != nil {
		t.Fatalf("kcat -C porttrack.dlq: %v", err)
	}
	sum := sha256.Sum256(make([]byte, size))
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1 {
		t.Fatalf("porttrack.dlq holds %d records, want 1:\n%s", len(lines), out)
	}
	vsize, headers, _ := strings.Cut(lines[0], "|")
	for _, want := range []string{"value-truncated=true", fmt.Sprintf("value-size=%d", size), "value-sha256=" + hex.EncodeToString(sum[:]), "error=oversize:"} {
		if !strings.Contains(headers, want) {
			t.Errorf("dead letter headers %q lack %q", headers, want)
		}
	}
	if vsize != "65536" {
		t.Errorf("dead letter value of %s bytes, want the 65536-byte prefix", vsize)
	}
	code, body, err := httpGet(d.base + "/readyz")
	if err != nil || code != http.StatusOK || strings.Contains(string(body), "degraded") {
		t.Errorf("/readyz: %d %s %v", code, body, err)
	}
}
