package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// receiverSource is the webhook receiver of TestWebhooksAcrossRestart: a
// separate program (standard library only) that checks every signature
// itself, misbehaves at random (500, 429 with Retry-After, an answer
// slower than porttrack's timeout) and appends the batches it accepted to
// a file as "<subscription id> <eventID>,<eventID>,...".
const receiverSource = `package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

func main() {
	addr, out, secret := os.Args[1], os.Args[2], os.Args[3]
	key, _ := base64.StdEncoding.DecodeString(secret)
	f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		panic(err)
	}
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 1))
	posts := map[string]int{}
	record := func(s string) { mu.Lock(); f.WriteString(s + "\n"); mu.Unlock() }
	http.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		m := hmac.New(sha256.New, key)
		m.Write(body)
		want := "sha256=" + hex.EncodeToString(m.Sum(nil))
		sub := r.Header.Get("Subscription-ID")
		if !hmac.Equal([]byte(strings.ToLower(r.Header.Get("Notification-Signature"))), []byte(want)) || r.Header.Get("API-Version") == "" {
			record("BADSIG " + sub)
			w.WriteHeader(401)
			return
		}
		var evs []struct{ EventID string }
		if json.Unmarshal(body, &evs) != nil {
			record("BADBODY " + sub)
			w.WriteHeader(400)
			return
		}
		ids := make([]string, len(evs))
		for i, e := range evs {
			ids[i] = e.EventID
		}
		mu.Lock()
		x := rng.IntN(100)
		posts[sub]++
		// Every subscription's first two POSTs to this process fail (500,
		// then 429), so failures are exercised whatever the dice say.
		if n := posts[sub]; n <= 2 {
			x = 20 - 10*(2-n) // 10: 500, then 20: 429
		}
		mu.Unlock()
		switch {
		case x < 15:
			w.WriteHeader(500)
		case x < 25:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(429)
		case x < 30:
			record(sub + " " + strings.Join(ids, ","))
			time.Sleep(1500 * time.Millisecond)
			w.WriteHeader(204)
		default:
			if x < 40 {
				time.Sleep(100 * time.Millisecond)
			}
			record(sub + " " + strings.Join(ids, ","))
			w.WriteHeader(204)
		}
	})
	if err := http.ListenAndServe(addr, nil); err != nil {
		panic(err)
	}
}
`

func buildReceiver(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte(receiverSource), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "receiver")
	cmd := exec.Command("go", "build", "-o", bin, src)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build receiver: %v\n%s", err, out)
	}
	return bin
}

type receiver struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startReceiver(t *testing.T, bin, addr, out, secret string) *receiver {
	t.Helper()
	r := &receiver{cmd: exec.Command(bin, addr, out, secret), done: make(chan struct{})}
	r.cmd.Stderr = os.Stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.cmd.Wait(); close(r.done) }()
	t.Cleanup(r.stop)
	waitFor(t, 10*time.Second, func() (bool, string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false, "receiver not listening"
		}
		c.Close()
		return true, ""
	})
	return r
}

func (r *receiver) stop() {
	select {
	case <-r.done:
	default:
		r.cmd.Process.Kill()
		<-r.done
	}
}

// apiDo sends a request with a key and returns status and body.
func apiDo(t *testing.T, method, url, key string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestWebhooksAcrossRestart: `porttrack serve` with keys for the port and
// two logistics tenants whose boxes are interleaved; each subscribes a
// receiver running as a separate program that fails at random, is stopped
// for a while, while porttrack itself is killed with SIGKILL and
// restarted. At the end each subscription has received, in order, exactly
// the events its tenant sees on GET /v2/events, every signature verified.
func TestWebhooksAcrossRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds porttrack and a receiver and restarts porttrack")
	}
	bin := buildPorttrack(t)
	rcvBin := buildReceiver(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(3, "port.rfid", "port.ais", "port.transport", "porttrack.dlq", "porttrack.events"),
		kfake.GroupMinSessionTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	broker := cluster.ListenAddrs()[0]
	dataDir := t.TempDir()

	// Keys: the admin key (port role) at start; the tenants' keys by the
	// apikey command on the data dir before the node starts (apikey needs
	// the state a node made: initState stands for an earlier run).
	initState(t, dataDir)
	const adminKey = "e2e-admin-key-0123456789"
	tenantKey := func(tenant, booking string) string {
		var out bytes.Buffer
		if err := run(t.Context(), []string{"apikey", "create", "--data-dir", dataDir, "--tenant", tenant, "--role", "logistics", "--booking", booking}, env(nil), &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out.String())
	}
	keys := map[string]string{"port": adminKey, "a": tenantKey("a", "BKG-A"), "b": tenantKey("b", "BKG-B")}
	boxes := map[string][]string{"a": {"CSQU3054383", "APZU4812090", "CICU3789922"}, "b": {"MSKU9070323", "TGHU0436455", "CSQU3054300"}}

	srv := startServe(t, bin, broker, dataDir, "--admin-key", adminKey, "--webhooks-timeout", "1s", "--webhooks-backoff-max", "2s", "--webhooks-allow", "127.0.0.0/8")
	waitReady := func(p *serveProc) {
		waitFor(t, 30*time.Second, func() (bool, string) {
			p.checkRunning(t)
			code, body, err := httpGet(p.base + "/readyz")
			return err == nil && code == 200, fmt.Sprintf("readyz %d %s %v", code, body, err)
		})
	}
	waitReady(srv)

	rcvAddr := freeAddr(t)
	out := filepath.Join(t.TempDir(), "received.txt")
	secret := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("0123456789abcdef"), 2))
	subs := map[string]string{} // tenant -> subscription id
	for _, tenant := range []string{"port", "a", "b"} {
		code, body := apiDo(t, "POST", srv.base+"/v2/event-subscriptions", keys[tenant],
			[]byte(`{"callbackUrl":"http://`+rcvAddr+`/hook/`+tenant+`","secret":"`+secret+`"}`))
		var m map[string]any
		if code != 201 || json.Unmarshal(body, &m) != nil {
			t.Fatalf("subscribe %s: %d %s", tenant, code, body)
		}
		subs[tenant] = m["subscriptionID"].(string)
	}
	rcv := startReceiver(t, rcvBin, rcvAddr, out, secret)

	w := &kafka.Writer{Addr: kafka.TCP(broker), Topic: "port.rfid", Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 2 * time.Millisecond}
	defer w.Close()
	t0 := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	produced := 0
	produce := func(n int) {
		t.Helper()
		steps := []string{"arriving", "loading", "unloading", "inspecting", "departing"}
		var msgs []kafka.Message
		for range n {
			i := produced
			tenant := []string{"a", "b"}[i%2]
			box := boxes[tenant][(i/2)%3]
			ev := fmt.Sprintf(`{"type":"ObjectEvent","eventID":"e2e-%d","eventTime":%q,"eventTimeZoneOffset":"+08:00","epcList":["urn:epc:id:bic:%s"],"action":"OBSERVE","bizStep":%q,"bizLocation":{"id":"CNNGB-BLCT"},"bizTransactionList":[{"type":"bkg","bizTransaction":"BKG-%s"}]}`,
				i, t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339), box, steps[i%len(steps)], strings.ToUpper(tenant))
			msgs = append(msgs, kafka.Message{Key: []byte(box), Value: []byte(ev)})
			produced++
		}
		if err := w.WriteMessages(context.Background(), msgs...); err != nil {
			t.Fatal(err)
		}
	}
	received := func() (map[string][]string, int) {
		f, err := os.Open(out)
		if os.IsNotExist(err) {
			return nil, 0
		}
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got, bad := map[string][]string{}, 0
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			sub, ids, _ := strings.Cut(sc.Text(), " ")
			if strings.HasPrefix(sub, "BAD") {
				bad++
				continue
			}
			got[sub] = append(got[sub], strings.Split(ids, ",")...)
		}
		return got, bad
	}
	distinct := func(ids []string) []string {
		seen := map[string]bool{}
		var d []string
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				d = append(d, id)
			}
		}
		return d
	}

	produce(60)
	waitFor(t, 60*time.Second, func() (bool, string) {
		got, _ := received()
		return len(got[subs["port"]]) >= 10, "first deliveries"
	})
	rcv.stop() // the receiver goes away
	produce(40)
	srv.kill(t) // porttrack dies mid-way, events in flight
	produce(40)
	srv = startServe(t, bin, broker, dataDir, "--admin-key", adminKey, "--webhooks-timeout", "1s", "--webhooks-backoff-max", "2s", "--webhooks-allow", "127.0.0.0/8")
	waitReady(srv)
	startReceiver(t, rcvBin, rcvAddr, out, secret) // the receiver is back
	produce(60)

	// What each tenant sees through the API, once every record is applied.
	want := map[string][]string{}
	waitFor(t, 60*time.Second, func() (bool, string) {
		for tenant, key := range keys {
			code, body := apiDo(t, "GET", srv.base+"/v2/events?limit=1000", key, nil)
			var evs []struct {
				EventID            string
				EquipmentReference string
			}
			if code != 200 || json.Unmarshal(body, &evs) != nil {
				return false, fmt.Sprintf("GET /v2/events as %s: %d %s", tenant, code, body)
			}
			want[tenant] = want[tenant][:0]
			for _, e := range evs {
				if tenant != "port" && !slices.Contains(boxes[tenant], e.EquipmentReference) {
					t.Fatalf("tenant %s sees %s's event %s", tenant, e.EquipmentReference, e.EventID)
				}
				want[tenant] = append(want[tenant], e.EventID)
			}
		}
		// All three lists from one pass: the tenants are read in map
		// order, so a tenant read before the last events were applied
		// would lag behind the port's list.
		return len(want["port"]) == produced && len(want["a"]) == produced/2 && len(want["b"]) == produced/2,
			fmt.Sprintf("%d of %d events queryable; tenants see %d and %d", len(want["port"]), produced, len(want["a"]), len(want["b"]))
	})
	if len(want["a"]) != produced/2 || len(want["b"]) != produced/2 {
		t.Fatalf("tenants see %d and %d events, want %d each", len(want["a"]), len(want["b"]), produced/2)
	}
	waitFor(t, 120*time.Second, func() (bool, string) {
		got, _ := received()
		for tenant, id := range subs {
			if n := len(distinct(got[id])); n < len(want[tenant]) {
				return false, fmt.Sprintf("subscription of %s: %d of %d events", tenant, n, len(want[tenant]))
			}
		}
		return true, ""
	})
	got, bad := received()
	if bad != 0 {
		t.Errorf("%d deliveries failed the receiver's signature or body check", bad)
	}
	dups := 0
	for tenant, id := range subs {
		if d := distinct(got[id]); !slices.Equal(d, want[tenant]) {
			t.Errorf("subscription of %s received, in first-arrival order:\n%v\nwant (GET /v2/events order):\n%v", tenant, d, want[tenant])
		}
		dups += len(got[id]) - len(distinct(got[id]))
	}
	code, body := apiDo(t, "GET", srv.base+"/v2/event-subscriptions/"+subs["port"]+"/deliveries?limit=1000", adminKey, nil)
	failed := strings.Count(string(body), `"error"`)
	if code != 200 || failed == 0 {
		t.Errorf("delivery log: %d, %d failed attempts: %.300s", code, failed, body)
	}
	t.Logf("%d events; port/a/b received %d/%d/%d distinct, %d duplicates; the port subscription's log shows %d failed attempts",
		produced, len(distinct(got[subs["port"]])), len(distinct(got[subs["a"]])), len(distinct(got[subs["b"]])), dups, failed)
}
