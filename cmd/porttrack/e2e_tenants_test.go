package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestRevokedKeyStopsWebhooks: issue 14 item 4, as an operator does it. A
// logistics tenant subscribes with its key and receives its events; the
// node is stopped, the key revoked with `porttrack apikey revoke`, the node
// started again: the key answers 401, the subscription is paused (the
// metric says so) and the receiver gets nothing of the events that follow,
// while the node applies them.
func TestRevokedKeyStopsWebhooks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds porttrack and restarts it")
	}
	bin := buildPorttrack(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "port.rfid", "port.ais", "port.transport", "porttrack.dlq", "porttrack.events"),
		kfake.GroupMinSessionTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	broker := cluster.ListenAddrs()[0]
	dataDir := t.TempDir()

	var mu sync.Mutex
	received := map[string]bool{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var evs []struct{ EventID string }
		json.NewDecoder(r.Body).Decode(&evs)
		mu.Lock()
		for _, e := range evs {
			received[e.EventID] = true
		}
		mu.Unlock()
		w.WriteHeader(204)
	}))
	defer rcv.Close()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(received) }

	initState(t, dataDir)
	var out bytes.Buffer
	if err := run(t.Context(), []string{"apikey", "create", "--data-dir", dataDir, "--tenant", "acme", "--role", "logistics", "--booking", "BKG-A"},
		env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(out.String())
	sum := sha256.Sum256([]byte(key))
	keyID := hex.EncodeToString(sum[:8])

	const adminKey = "e2e-admin-key-0123456789"
	start := func() *serveProc {
		t.Helper()
		p := startServe(t, bin, broker, dataDir, "--admin-key", adminKey, "--webhooks-allow", "127.0.0.0/8") // the receiver is on loopback
		waitFor(t, 30*time.Second, func() (bool, string) {
			p.checkRunning(t)
			code, body, err := httpGet(p.base + "/readyz")
			return err == nil && code == 200, fmt.Sprintf("readyz %d %s %v", code, body, err)
		})
		return p
	}
	srv := start()
	secret := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("0123456789abcdef"), 2))
	code, body := apiDo(t, "POST", srv.base+"/v2/event-subscriptions", key, []byte(`{"callbackUrl":"`+rcv.URL+`/hook","secret":"`+secret+`"}`))
	if code != 201 {
		t.Fatalf("subscribe: %d %s", code, body)
	}

	w := &kafka.Writer{Addr: kafka.TCP(broker), Topic: "port.rfid", Balancer: &kafka.Murmur2Balancer{}, RequiredAcks: kafka.RequireAll, BatchTimeout: 2 * time.Millisecond}
	defer w.Close()
	t0 := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	produced := 0
	produce := func(n int) {
		t.Helper()
		var msgs []kafka.Message
		for range n {
			ev := fmt.Sprintf(`{"type":"ObjectEvent","eventID":"revoke-%d","eventTime":%q,"eventTimeZoneOffset":"+08:00","epcList":["urn:epc:id:bic:CSQU3054383"],"action":"OBSERVE","bizStep":"arriving","bizLocation":{"id":"CNNGB-BLCT"},"bizTransactionList":[{"type":"bkg","bizTransaction":"BKG-A"}]}`,
				produced, t0.Add(time.Duration(produced)*time.Second).Format(time.RFC3339))
			msgs = append(msgs, kafka.Message{Key: []byte("CSQU3054383"), Value: []byte(ev)})
			produced++
		}
		if err := w.WriteMessages(context.Background(), msgs...); err != nil {
			t.Fatal(err)
		}
	}
	events := func(p *serveProc) int {
		code, body := apiDo(t, "GET", p.base+"/v2/events?limit=1000", adminKey, nil)
		var evs []json.RawMessage
		if code != 200 || json.Unmarshal(body, &evs) != nil {
			t.Fatalf("GET /v2/events: %d %s", code, body)
		}
		return len(evs)
	}
	produce(5)
	waitFor(t, 60*time.Second, func() (bool, string) { return count() == 5, fmt.Sprintf("%d of 5 events delivered", count()) })

	srv.kill(t)
	if err := run(t.Context(), []string{"apikey", "revoke", "--data-dir", dataDir, keyID}, env(nil), io.Discard, io.Discard); err != nil {
		t.Fatalf("apikey revoke: %v", err)
	}
	srv = start()
	if code, body := apiDo(t, "GET", srv.base+"/v2/event-subscriptions", key, nil); code != 401 {
		t.Errorf("the revoked key: %d %s", code, body)
	}
	produce(5)
	waitFor(t, 60*time.Second, func() (bool, string) {
		n := events(srv)
		m, err := scrape(srv.base + "/metrics")
		paused := m["porttrack_webhook_paused_subscriptions"]
		return n == 10 && err == nil && paused == 1, fmt.Sprintf("%d of 10 events applied, %v subscriptions paused (%v)", n, paused, err)
	})
	if n := count(); n != 5 {
		t.Errorf("the revoked key's subscription received %d events, want the 5 from before the revocation", n)
	}
}
