package bench

import (
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestParseSent(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1764000000123456789", 1764000000123456789, true},
		{"0", 0, true},
		{"", 0, false},
		{"-5", 0, false},
		{"12a", 0, false},
		{"12345678901234567890", 0, false}, // 20 digits: beyond int64
	} {
		got, ok := parseSent([]byte(c.in))
		if got != c.want || ok != c.ok {
			t.Errorf("parseSent(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// TestServerSplit drives the wrapper with requests that carry a send time
// 3 ms in the past into a handler that takes at least 2 ms.
func TestServerSplit(t *testing.T) {
	var s serverSplit
	calls := 0
	h := s.wrap(func(ctx *fasthttp.RequestCtx) {
		calls++
		time.Sleep(2 * time.Millisecond)
	})
	req := func(stamp bool) {
		var ctx fasthttp.RequestCtx
		if stamp {
			ctx.Request.Header.Set(SentHeader, strconv.FormatInt(time.Now().Add(-3*time.Millisecond).UnixNano(), 10))
		}
		h(&ctx)
	}
	req(true) // before start: not recorded
	s.start()
	req(true)
	req(true)
	req(false) // no stamp: served, not recorded
	before, in, n := s.stop()
	req(true) // after stop: not recorded
	if calls != 5 {
		t.Fatalf("handler ran %d times, want 5", calls)
	}
	if n != 2 {
		t.Fatalf("recorded %d requests, want 2", n)
	}
	if before.P50 < 3*time.Millisecond || before.P50 > time.Second {
		t.Errorf("before the handler: p50 %v, want at least the 3 ms stamped", before.P50)
	}
	if in.P50 < 2*time.Millisecond || in.P50 > time.Second {
		t.Errorf("in the handler: p50 %v, want at least the 2 ms it slept", in.P50)
	}
}
