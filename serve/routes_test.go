package serve

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// request sends method url with the Authorization header auth (none when "")
// and returns the status, the body and the header.
func request(t *testing.T, method, url, auth, body string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// fakeClock is a Config.Now that a test sets.
type fakeClock struct{ sec atomic.Int64 }

func (c *fakeClock) now() time.Time { return time.Unix(c.sec.Load(), 0) }

// TestCreatedIsTheResponseTime: a completion's created is the time it was
// answered, not the server's start; /v1/models keeps the server's.
func TestCreatedIsTheResponseTime(t *testing.T) {
	clock := &fakeClock{}
	clock.sec.Store(1_000) // the server's start
	cfg := modelConfig(t)
	cfg.Now = clock.now
	r := start(t, cfg)
	const chat = `{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "temperature": 0}`
	for _, tc := range []struct {
		name, method, path, body string
		at, want                 int64
	}{
		{"completion", http.MethodPost, "/v1/completions", goodCompletion, 2_000, 2_000},
		{"chat", http.MethodPost, "/v1/chat/completions", chat, 3_000, 3_000},
		{"a later completion", http.MethodPost, "/v1/completions", goodCompletion, 4_500, 4_500},
		{"models: the server's", http.MethodGet, "/v1/models", "", 5_000, 1_000},
	} {
		clock.sec.Store(tc.at)
		status, body, _ := request(t, tc.method, r.url+tc.path, "", tc.body)
		if status != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.name, status, body)
		}
		var got struct {
			Created *int64 `json:"created"`
			Data    []struct {
				Created int64 `json:"created"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%s: %v: %s", tc.name, err, body)
		}
		created := int64(-1)
		switch {
		case got.Created != nil:
			created = *got.Created
		case len(got.Data) == 1:
			created = got.Data[0].Created
		}
		if created != tc.want {
			t.Errorf("%s at %d: created %d, want %d", tc.name, tc.at, created, tc.want)
		}
	}
}

// TestAuthSchemeAnyCase: the scheme is case-insensitive (RFC 9110 §11.1),
// the token is not.
func TestAuthSchemeAnyCase(t *testing.T) {
	r := start(t, Config{Scorer: newBlockingScorer(t), Token: "tok"})
	const missing, invalid = "missing bearer token: send Authorization: Bearer <token>", "invalid bearer token"
	for _, tc := range []struct {
		name, header string
		status       int
		message      string
	}{
		{"Bearer", "Bearer tok", 200, ""},
		{"bearer", "bearer tok", 200, ""},
		{"BEARER", "BEARER tok", 200, ""},
		{"bEaReR", "bEaReR tok", 200, ""},
		{"bearer, two spaces", "bearer  tok", 200, ""}, // 1*SP
		{"bearer, wrong token", "bearer tokx", 401, invalid},
		{"bearer, token in another case", "bearer TOK", 401, invalid},
		{"bearer, no token", "bearer", 401, missing}, // net/http drops the trailing space
		{"no space", "bearertok", 401, missing},
		{"Basic", "Basic tok", 401, missing},
		{"no header", "", 401, missing},
	} {
		status, body, h := request(t, http.MethodGet, r.url+"/v1/models", tc.header, "")
		if status != tc.status {
			t.Errorf("%s: %d, want %d: %s", tc.name, status, tc.status, body)
			continue
		}
		if tc.status != 401 {
			continue
		}
		if msg, typ, _, code := errorBody(t, body); msg != tc.message || typ != "authentication_error" || code != "invalid_api_key" || h.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %q %s %s, want %q", tc.name, msg, typ, code, tc.message)
		}
	}
}

// TestUnknownRoutesAndMethods: with a token, an unknown path answers 401
// to a request without it (listing no route) and the helpful 404 to one
// with it; a known path with a wrong method answers 405 with Allow.
func TestUnknownRoutesAndMethods(t *testing.T) {
	cfg := modelConfig(t)
	cfg.Token = "tok"
	cfg.Scorer = newBlockingScorer(t)
	r := start(t, cfg)
	const ok = "Bearer tok"
	for _, tc := range []struct {
		name, method, path, auth string
		status                   int
		code, allow              string
	}{
		{"unknown path, no token", http.MethodGet, "/v1/embeddings", "", 401, "invalid_api_key", ""},
		{"unknown path, wrong token", http.MethodPost, "/v1/embeddings", "Bearer nope", 401, "invalid_api_key", ""},
		{"root, no token", http.MethodGet, "/", "", 401, "invalid_api_key", ""},
		{"unknown path, token", http.MethodGet, "/v1/embeddings", ok, 404, "not_found", ""},
		{"completions by GET", http.MethodGet, "/v1/completions", ok, 405, "method_not_allowed", "POST"},
		{"chat by GET", http.MethodGet, "/v1/chat/completions", ok, 405, "method_not_allowed", "POST"},
		{"score pairs by GET", http.MethodGet, "/v1/score/pairs", ok, 405, "method_not_allowed", "POST"},
		{"models by DELETE", http.MethodDelete, "/v1/models", ok, 405, "method_not_allowed", "GET, HEAD"},
		{"metrics by PUT", http.MethodPut, "/metrics", ok, 405, "method_not_allowed", "GET, HEAD"},
		{"completions by GET, no token", http.MethodGet, "/v1/completions", "", 401, "invalid_api_key", ""},
		{"healthz by POST, no token", http.MethodPost, "/healthz", "", 405, "method_not_allowed", "GET, HEAD"},
	} {
		status, body, h := request(t, tc.method, r.url+tc.path, tc.auth, "")
		if status != tc.status {
			t.Errorf("%s: %s %s: %d, want %d: %s", tc.name, tc.method, tc.path, status, tc.status, body)
			continue
		}
		msg, _, _, code := errorBody(t, body)
		if code != tc.code || h.Get("Allow") != tc.allow {
			t.Errorf("%s: code %q Allow %q, want %q %q", tc.name, code, h.Get("Allow"), tc.code, tc.allow)
		}
		listed := strings.Contains(msg, "/v1/score/prompts")
		if listed != (tc.status == 404) {
			t.Errorf("%s: the routes listed: %v, want %v: %q", tc.name, listed, tc.status == 404, msg)
		}
	}
	if status, body, _ := request(t, http.MethodGet, r.url+"/healthz", "", ""); status != 200 {
		t.Errorf("GET /healthz without a token: %d %s", status, body)
	}
}

// TestModelRetrieve: GET /v1/models/{id} (the SDKs' models.retrieve)
// answers the served model's entry of GET /v1/models, and 404
// model_not_found for any other id.
func TestModelRetrieve(t *testing.T) {
	cfg := modelConfig(t)
	cfg.Token = "tok"
	r := start(t, cfg)
	const ok = "Bearer tok"
	status, body, _ := request(t, http.MethodGet, r.url+"/v1/models", ok, "")
	var list struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &list); status != 200 || err != nil || len(list.Data) != 1 {
		t.Fatalf("GET /v1/models: %d %v %s", status, err, body)
	}
	entry, _ := json.Marshal(list.Data[0])
	for _, tc := range []struct {
		name, path, auth string
		status           int
		code             string
	}{
		{"the served model", "/v1/models/tiny", ok, 200, ""},
		{"another model", "/v1/models/gpt-4", ok, 404, "model_not_found"},
		{"a longer id", "/v1/models/tiny/extra", ok, 404, "model_not_found"},
		{"a prefix", "/v1/models/tin", ok, 404, "model_not_found"},
		{"no token", "/v1/models/tiny", "", 401, "invalid_api_key"},
	} {
		status, body, _ := request(t, http.MethodGet, r.url+tc.path, tc.auth, "")
		if status != tc.status {
			t.Errorf("%s: GET %s: %d, want %d: %s", tc.name, tc.path, status, tc.status, body)
			continue
		}
		if tc.status == 200 {
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if b, _ := json.Marshal(got); string(b) != string(entry) {
				t.Errorf("%s: %s, want the list's entry %s", tc.name, b, entry)
			}
			continue
		}
		if _, _, _, code := errorBody(t, body); code != tc.code {
			t.Errorf("%s: code %q, want %q", tc.name, code, tc.code)
		}
	}
}
