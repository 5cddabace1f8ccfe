package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A Redis server started by the geo scenario, and the little of the RESP
// protocol (https://redis.io/docs/latest/develop/reference/protocol-spec/)
// the scenario needs: commands written as arrays of bulk strings, replies
// read generically for setup and checks (readReply) or skipped without
// allocating in the load generator (skipReply). A client library would add a
// dependency, a connection pool and per-reply allocations to the reference
// we measure against.

// redisServer is a redis-server child process on a loopback port, with
// persistence off.
type redisServer struct {
	cmd  *exec.Cmd
	addr string
	out  *tailBuffer
	done chan struct{} // closed when the process has exited
}

// startRedis starts bin on a free loopback port and waits until it answers
// PING.
func startRedis(ctx context.Context, bin, dir string) (*redisServer, error) {
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("redis-server %q not found (install it, e.g. apt-get install redis-server, or skip the Redis reference with \"-\"): %w", bin, err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &redisServer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), out: &tailBuffer{max: 8 << 10}, done: make(chan struct{})}
	r.cmd = exec.Command(path,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", // no persistence: the reference is in memory only
		"--dir", dir, "--daemonize", "no", "--loglevel", "warning")
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	go func() { r.cmd.Wait(); close(r.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := dialRedis(r.addr)
		if err == nil {
			_, err = c.do("PING")
			c.close()
			if err == nil {
				return r, nil
			}
		}
		select {
		case <-r.done:
			return nil, fmt.Errorf("redis-server exited at start: %s", r.out)
		case <-ctx.Done():
			r.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("redis-server does not answer on %s: %v; output: %s", r.addr, err, r.out)
		}
	}
}

// stop kills the server and waits for it to exit.
func (r *redisServer) stop() {
	r.cmd.Process.Kill()
	<-r.done
}

func (r *redisServer) pid() int { return r.cmd.Process.Pid }

// cpu returns the server's user+system CPU time.
func (r *redisServer) cpu() (time.Duration, error) { return procCPU(r.pid()) }

// procCPU returns a process's user+system CPU time from /proc/<pid>/stat
// (clock ticks of 10 ms: USER_HZ is 100 on Linux).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// utime and stime are fields 14 and 15, the 12th and 13th after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc stat: %.100q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat: %.100q", b)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc stat: %.100q", b)
	}
	return time.Duration(ut+st) * (time.Second / 100), nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// respConn is one connection to Redis.
type respConn struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

func dialRedis(addr string) (*respConn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &respConn{c: c, r: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10)}, nil
}

func (c *respConn) close() error { return c.c.Close() }

// do sends one command and reads its reply.
func (c *respConn) do(args ...string) (any, error) {
	c.w.Write(appendCommand(nil, args...))
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	return readReply(c.r)
}

// appendCommand appends a command as a RESP array of bulk strings.
func appendCommand(dst []byte, args ...string) []byte {
	dst = appendArrayHeader(dst, len(args))
	for _, a := range args {
		dst = appendBulk(dst, a)
	}
	return dst
}

func appendArrayHeader(dst []byte, n int) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '\r', '\n')
}

func appendBulk[S string | []byte](dst []byte, s S) []byte {
	dst = append(dst, '$')
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, '\r', '\n')
	dst = append(dst, s...)
	return append(dst, '\r', '\n')
}

// redisError is an error reply.
type redisError string

func (e redisError) Error() string { return "redis: " + string(e) }

// readReply reads one reply: a string (simple or bulk), an int64, nil, a
// []any, or a redisError as the error.
func readReply(r *bufio.Reader) (any, error) {
	line, err := readLine(r)
	if err != nil {
		return nil, err
	}
	if len(line) == 0 {
		return nil, errors.New("redis: empty reply line")
	}
	switch line[0] {
	case '+':
		return string(line[1:]), nil
	case '-':
		return nil, redisError(line[1:])
	case ':':
		return parseInt(line[1:])
	case '$':
		n, err := parseInt(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		return string(b[:n]), nil
	case '*':
		n, err := parseInt(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		a := make([]any, n)
		for i := range a {
			if a[i], err = readReply(r); err != nil {
				return nil, err
			}
		}
		return a, nil
	}
	return nil, fmt.Errorf("redis: unexpected reply %.64q", line)
}

// skipReply reads one reply and discards it, returning the length of a
// top-level array (0 for other replies). It allocates nothing.
func skipReply(r *bufio.Reader) (int, error) {
	line, err := readLine(r)
	if err != nil {
		return 0, err
	}
	if len(line) == 0 {
		return 0, errors.New("redis: empty reply line")
	}
	switch line[0] {
	case '+', ':':
		return 0, nil
	case '-':
		return 0, redisError(line[1:])
	case '$':
		n, err := parseInt(line[1:])
		if err != nil || n < 0 {
			return 0, err
		}
		_, err = r.Discard(int(n) + 2)
		return 0, err
	case '*':
		n, err := parseInt(line[1:])
		if err != nil || n < 0 {
			return 0, err
		}
		for range n {
			if _, err := skipReply(r); err != nil {
				return 0, err
			}
		}
		return int(n), nil
	}
	return 0, fmt.Errorf("redis: unexpected reply %.64q", line)
}

// readLine returns a line without its CRLF; it is valid until the next read.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("redis: malformed line %.64q", line)
	}
	return line[:len(line)-2], nil
}

func parseInt(b []byte) (int64, error) {
	n, neg := int64(0), false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, fmt.Errorf("redis: bad integer %q", b)
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("redis: bad integer %q", b)
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, nil
}

// redisInfo returns the fields of an INFO section.
func redisInfo(c *respConn, section string) (map[string]string, error) {
	v, err := c.do("INFO", section)
	if err != nil {
		return nil, err
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("redis: INFO %s returned %T", section, v)
	}
	m := map[string]string{}
	for _, line := range strings.Split(s, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(k, "#") {
			m[k] = v
		}
	}
	return m, nil
}

// tailBuffer keeps the last max bytes written to it (a child's output, for
// error messages).
type tailBuffer struct {
	max int
	mu  sync.Mutex
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
