package serve

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const goodCompletion = `{"model": "tiny", "prompt": "the soup was", "max_tokens": 4, "temperature": 0}`

// wellBehaved sends valid completions in a loop until stop is called and
// returns how many it sent; each failure is reported.
func wellBehaved(t *testing.T, url string) (stop func() int) {
	var n atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	c := &http.Client{Timeout: 10 * time.Second}
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			status, body, _ := post(t, c, url+"/v1/completions", "", goodCompletion)
			if status != http.StatusOK {
				t.Errorf("well-behaved client: %d %s", status, body)
				return
			}
			n.Add(1)
		}
	})
	return func() int {
		close(done)
		wg.Wait()
		return int(n.Load())
	}
}

func TestAuth(t *testing.T) {
	cfg := modelConfig(t)
	cfg.Token = "correct-horse"
	r := start(t, cfg)
	c := &http.Client{}
	for _, tc := range []struct {
		name, header string
		status       int
	}{
		{"no header", "", 401},
		{"wrong token", "Bearer correct-horsf", 401},
		{"prefix of the token", "Bearer correct", 401},
		{"not bearer", "Basic correct-horse", 401},
		{"right token", "Bearer correct-horse", 200},
	} {
		for _, path := range []string{"/v1/completions", "/v1/models", "/metrics"} {
			method, body := http.MethodPost, goodCompletion
			if path != "/v1/completions" {
				method, body = http.MethodGet, ""
			}
			req, _ := http.NewRequest(method, r.url+path, strings.NewReader(body))
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s: %d, want %d: %s", tc.name, path, resp.StatusCode, tc.status, b)
			}
			if tc.status == 401 {
				if _, typ, _, code := errorBody(t, b); typ != "authentication_error" || code != "invalid_api_key" || resp.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s %s: type %q code %q", tc.name, path, typ, code)
				}
			}
		}
	}
	resp, err := http.Get(r.url + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz without a token: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestListenNeedsTokenOffLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		lo   bool
		bad  bool
	}{
		{"127.0.0.1:0", true, false}, {"localhost:8080", true, false}, {"[::1]:0", true, false}, {"127.1.2.3:0", true, false},
		{"0.0.0.0:0", false, false}, {":8080", false, false}, {"192.168.1.5:80", false, false}, {"[::]:0", false, false},
		{"example.com:80", false, false}, {"127.0.0.1", false, true}, {"", false, true},
	} {
		lo, err := IsLoopback(tc.addr)
		if lo != tc.lo || (err != nil) != tc.bad {
			t.Errorf("IsLoopback(%q) = %v, %v; want %v, error %v", tc.addr, lo, err, tc.lo, tc.bad)
		}
	}
	s, err := New(Config{Scorer: newBlockingScorer(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Listen("0.0.0.0:0"); err == nil || !strings.Contains(err.Error(), "not loopback") || !strings.Contains(err.Error(), TokenEnv) {
		t.Fatalf("non-loopback without a token: %v", err)
	}
	s2, err := New(Config{Scorer: newBlockingScorer(t), Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	ln, err := s2.Listen("0.0.0.0:0")
	if err != nil {
		t.Fatalf("non-loopback with a token: %v", err)
	}
	ln.Close()
	// A busy port: one clear error.
	ln, err = s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := s.Listen(ln.Addr().String()); err == nil || !strings.Contains(err.Error(), "listen on "+ln.Addr().String()) {
		t.Fatalf("busy port: %v", err)
	}
}

// TestBadRequests sends oversized, malformed and unsupported requests while
// a well-behaved client keeps working.
func TestBadRequests(t *testing.T) {
	cfg := modelConfig(t)
	cfg.MaxBodyBytes = 4096
	r := start(t, cfg)
	stop := wellBehaved(t, r.url)
	c := &http.Client{}
	for _, tc := range []struct {
		name, path, body string
		status           int
		param, code      string
	}{
		{"oversized", "/v1/completions", `{"model": "tiny", "prompt": "` + strings.Repeat("a", 5000) + `"}`, 413, "", "request_too_large"},
		{"empty", "/v1/completions", ``, 400, "", "invalid_value"},
		{"truncated", "/v1/completions", `{"model": "tiny", "prompt": "the`, 400, "", "invalid_value"},
		{"array", "/v1/completions", `[1, 2]`, 400, "", "invalid_value"},
		{"trailing", "/v1/completions", goodCompletion + ` {}`, 400, "", "invalid_value"},
		{"not utf-8", "/v1/completions", "{\"model\": \"tiny\", \"prompt\": \"\xff\xfe\"}", 400, "", "invalid_value"},
		{"wrong type", "/v1/completions", `{"model": "tiny", "prompt": "x", "max_tokens": "many"}`, 400, "max_tokens", "invalid_value"},
		{"no prompt", "/v1/completions", `{"model": "tiny"}`, 400, "prompt", "invalid_value"},
		{"prompt number", "/v1/completions", `{"model": "tiny", "prompt": 3}`, 400, "prompt", "invalid_value"},
		{"token out of vocabulary", "/v1/completions", `{"model": "tiny", "prompt": [1, 99999]}`, 400, "prompt", "invalid_value"},
		{"negative token", "/v1/completions", `{"model": "tiny", "prompt": [-1]}`, 400, "prompt", "invalid_value"},
		{"stream", "/v1/completions", `{"model": "tiny", "prompt": "x", "stream": true}`, 400, "stream", "unsupported_parameter"},
		{"temperature", "/v1/completions", `{"model": "tiny", "prompt": "x", "temperature": 3}`, 400, "temperature", "invalid_value"},
		{"top_p 0", "/v1/completions", `{"model": "tiny", "prompt": "x", "top_p": 0}`, 400, "top_p", "invalid_value"},
		{"five stops", "/v1/completions", `{"model": "tiny", "prompt": "x", "stop": ["a","b","c","d","e"]}`, 400, "stop", "invalid_value"},
		{"messages to completions", "/v1/completions", `{"model": "tiny", "messages": []}`, 400, "messages", "invalid_value"},
		{"no messages", "/v1/chat/completions", `{"model": "tiny"}`, 400, "messages", "invalid_value"},
		{"tool role", "/v1/chat/completions", `{"model": "tiny", "messages": [{"role": "tool", "content": "x"}]}`, 400, "messages[0].role", "unsupported_parameter"},
		{"image part", "/v1/chat/completions", `{"model": "tiny", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}`, 400, "messages[0].content", "unsupported_parameter"},
		{"no model", "/v1/chat/completions", `{"messages": [{"role": "user", "content": "x"}]}`, 400, "model", "invalid_value"},
		{"no route", "/v1/embeddings", `{}`, 404, "", "not_found"},
	} {
		status, body, _ := post(t, c, r.url+tc.path, "", tc.body)
		if status != tc.status {
			t.Errorf("%s: %d, want %d: %s", tc.name, status, tc.status, body)
			continue
		}
		if _, _, param, code := errorBody(t, body); param != tc.param || code != tc.code {
			t.Errorf("%s: param %q code %q, want %q %q", tc.name, param, code, tc.param, tc.code)
		}
	}
	if n := stop(); n < 1 {
		t.Fatalf("the well-behaved client got %d answers", n)
	}
}

// TestSlowLoris holds connections that send their header or body too
// slowly: the server cuts them off after its read timeouts, and a
// well-behaved client is served all the while.
func TestSlowLoris(t *testing.T) {
	cfg := modelConfig(t)
	cfg.ReadHeaderTimeout = 300 * time.Millisecond
	cfg.ReadTimeout = 600 * time.Millisecond
	r := start(t, cfg)
	stop := wellBehaved(t, r.url)
	var conns []net.Conn
	for i := range 20 {
		c := rawConn(t, r.addr)
		if i%2 == 0 { // a header that never ends
			fmt.Fprintf(c, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		} else { // a body that never comes
			fmt.Fprintf(c, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"model\"")
		}
		conns = append(conns, c)
	}
	start := time.Now()
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		rd := bufio.NewReader(c)
		_, err := io.ReadAll(rd) // the server closes: EOF (after a 4xx for the slow body)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection %d still open after %v", i, time.Since(start))
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("slow connections closed after %v, want about the read timeouts", d)
	}
	if n := stop(); n < 1 {
		t.Fatalf("the well-behaved client got %d answers", n)
	}
}

func pairsBody(gen string) string {
	return fmt.Sprintf(`{"pairs": [{"generation": %q}]}`, gen)
}

// TestFullIs503 fills the concurrency limit with requests held by the
// scorer: the next is 503 with Retry-After, /healthz still answers, and the
// held requests finish.
func TestFullIs503(t *testing.T) {
	bs := newBlockingScorer(t)
	r := start(t, Config{Scorer: bs, MaxConcurrent: 2})
	c := &http.Client{}
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i := range 2 {
		wg.Go(func() { statuses[i], _, _ = post(t, c, r.url+"/v1/score/pairs", "", pairsBody("held")) })
	}
	<-bs.entered // one in the scorer, the other waiting for it: both hold a slot
	waitFor(t, func() bool { return r.s.metrics.inFlightValue() == 2 })
	status, body, h := post(t, &http.Client{Timeout: 5 * time.Second}, r.url+"/v1/score/pairs", "", pairsBody("third"))
	if status != 503 || h.Get("Retry-After") != "1" {
		t.Fatalf("third request: %d (Retry-After %q) %s, want 503", status, h.Get("Retry-After"), body)
	}
	if _, typ, _, code := errorBody(t, body); typ != "server_error" || code != "overloaded" {
		t.Errorf("503 type %q code %q", typ, code)
	}
	if resp, err := http.Get(r.url + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz when full: %v %v", resp, err)
	}
	bs.Release()
	wg.Wait()
	if statuses[0] != 200 || statuses[1] != 200 {
		t.Fatalf("held requests: %v", statuses)
	}
	if status, body, _ := post(t, c, r.url+"/v1/score/pairs", "", pairsBody("after")); status != 200 {
		t.Fatalf("after the held ones: %d %s", status, body)
	}
}

func TestRequestTimeout(t *testing.T) {
	bs := newBlockingScorer(t)
	r := start(t, Config{Scorer: bs, RequestTimeout: 200 * time.Millisecond})
	status, body, _ := post(t, &http.Client{}, r.url+"/v1/score/pairs", "", pairsBody("slow"))
	if status != 504 {
		t.Fatalf("%d %s, want 504", status, body)
	}
	if _, _, _, code := errorBody(t, body); code != "timeout" {
		t.Fatalf("code %q", code)
	}
}

// TestGracefulShutdown ends Serve's context while a request is in flight:
// the request finishes with its answer, new connections are refused, and
// Serve returns nil.
func TestGracefulShutdown(t *testing.T) {
	bs := newBlockingScorer(t)
	r := start(t, Config{Scorer: bs})
	var status int
	var body []byte
	var wg sync.WaitGroup
	wg.Go(func() { status, body, _ = post(t, &http.Client{}, r.url+"/v1/score/pairs", "", pairsBody("in flight")) })
	<-bs.entered
	r.stop()
	waitFor(t, func() bool {
		c, err := net.DialTimeout("tcp", r.addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-r.done:
		t.Fatalf("Serve returned %v with a request in flight", err)
	default:
	}
	bs.Release()
	wg.Wait()
	if status != 200 || !strings.Contains(string(body), `"in flight"`) {
		t.Fatalf("in-flight request: %d %s", status, body)
	}
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
		r.done <- nil // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the in-flight request finished")
	}
}

func TestMetrics(t *testing.T) {
	cfg := modelConfig(t)
	r := start(t, cfg)
	c := &http.Client{}
	post(t, c, r.url+"/v1/completions", "", goodCompletion)
	post(t, c, r.url+"/v1/completions", "", `{`)
	http.Get(r.url + "/nowhere")
	resp, err := http.Get(r.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`promptgan_http_requests_total{code="200",route="POST /v1/completions"} 1`,
		`promptgan_http_requests_total{code="400",route="POST /v1/completions"} 1`,
		`promptgan_http_requests_total{code="404",route="other"} 1`,
		`promptgan_http_request_duration_seconds_bucket{route="POST /v1/completions",le="+Inf"} 2`,
		`promptgan_http_in_flight_requests 1`, // this one
		`promptgan_http_rejected_total 0`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", b)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 5 s")
}

// TestDecoderEviction asks for more decoding settings than the pool holds:
// idle decoders are closed for new ones, and a setting asked again gives
// the same text from a reopened decoder.
func TestDecoderEviction(t *testing.T) {
	cfg := modelConfig(t)
	cfg.MaxDecoders = 2 // the default settings' decoder stays: one more at a time
	r := start(t, cfg)
	c := &http.Client{}
	ask := func(temp float64) string {
		t.Helper()
		status, b, _ := post(t, c, r.url+"/v1/completions", "", fmt.Sprintf(`{"model": "tiny", "prompt": "the soup was", "max_tokens": 6, "temperature": %g, "seed": 3}`, temp))
		if status != 200 {
			t.Fatalf("temperature %g: %d %s", temp, status, b)
		}
		return string(b[strings.Index(string(b), `"choices"`):])
	}
	first := ask(0.5)
	for _, temp := range []float64{0.6, 0.7, 0.8} {
		ask(temp)
	}
	r.s.pool.mu.Lock()
	open := len(r.s.pool.open)
	r.s.pool.mu.Unlock()
	if open != 2 {
		t.Fatalf("%d decoders open, want 2", open)
	}
	if again := ask(0.5); again != first {
		t.Fatalf("after eviction: %s, before: %s", again, first)
	}
}
