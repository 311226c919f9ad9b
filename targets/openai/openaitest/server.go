// Package openaitest is a small OpenAI-compatible server for tests: real
// loopback HTTP (net/http/httptest), deterministic generations, a bearer
// key, and fault injection (429 with and without Retry-After, 500, 503, a
// slow answer, a truncated body, malformed JSON, a connection closed
// mid-body). It counts every call it answered, per request, so that a test
// can check that each was paid for exactly once.
package openaitest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault is a way a call can fail.
type Fault string

// The faults the server injects.
const (
	Fault429           Fault = "429"
	Fault429RetryAfter Fault = "429+retry-after"
	Fault500           Fault = "500"
	Fault503           Fault = "503"
	FaultSlow          Fault = "slow"
	FaultTruncated     Fault = "truncated"
	FaultMalformed     Fault = "malformed-json"
	FaultClose         Fault = "closed-mid-body"
)

// AllFaults is every fault, in the order a cycle injects them.
var AllFaults = []Fault{Fault429, Fault429RetryAfter, Fault500, Fault503, FaultSlow, FaultTruncated, FaultMalformed, FaultClose}

// Options configure New.
type Options struct {
	Model      string        // the one model served
	Key        string        // the bearer key required; "" = none
	FaultEvery int           // every FaultEvery-th call gets the next fault of Faults; 0 = none
	Faults     []Fault       // nil = AllFaults
	Slow       time.Duration // how long a slow answer takes (longer than the client's timeout)
	RetryAfter string        // Retry-After of Fault429RetryAfter; "0"
	// BeforeAnswer, when set, is called (under no lock) before a call is
	// answered, with the number answered so far; false leaves the call
	// unanswered (the handler waits for the client to go away).
	BeforeAnswer func(answered int) bool
}

// Server is a running fake server.
type Server struct {
	*httptest.Server
	opts Options

	mu       sync.Mutex
	arrivals int
	answered map[string]int
	injected map[Fault]int
	usage    [2]int
}

// New starts a server; Close it when done.
func New(opts Options) *Server {
	if opts.Faults == nil {
		opts.Faults = AllFaults
	}
	if opts.RetryAfter == "" {
		opts.RetryAfter = "0"
	}
	s := &Server{opts: opts, answered: map[string]int{}, injected: map[Fault]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	return s
}

// URL of the API root (…/v1).
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// Tally is what the server saw.
type Tally struct {
	Arrivals int           // HTTP calls to the completion endpoints
	Answered int           // calls answered with a generation
	Distinct int           // distinct requests (prompt, seed, settings) answered
	Repeats  int           // answers to a request already answered (paid twice)
	Injected map[Fault]int // faults injected, by kind
	Faults   int           // their sum
	Usage    [2]int        // prompt, completion tokens billed
}

// Tally returns the counts so far.
func (s *Server) Tally() Tally {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := Tally{Arrivals: s.arrivals, Distinct: len(s.answered), Injected: map[Fault]int{}, Usage: s.usage}
	for _, n := range s.answered {
		t.Answered += n
		t.Repeats += n - 1
	}
	for f, n := range s.injected {
		t.Injected[f] = n
		t.Faults += n
	}
	return t
}

type request struct {
	Model       string                     `json:"model"`
	Prompt      *string                    `json:"prompt"`
	Messages    []struct{ Content string } `json:"messages"`
	MaxTokens   int                        `json:"max_tokens"`
	Temperature *float64                   `json:"temperature"`
	Seed        *int64                     `json:"seed"`
	Stop        []string                   `json:"stop"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error"}})
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if s.opts.Key != "" && r.Header.Get("Authorization") != "Bearer "+s.opts.Key {
		writeError(w, http.StatusUnauthorized, "Incorrect API key provided")
		return
	}
	switch r.URL.Path {
	case "/v1/models":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": []any{map[string]any{"id": s.opts.Model, "object": "model", "created": 0, "owned_by": "openaitest"}}})
		return
	case "/v1/completions", "/v1/chat/completions":
	default:
		writeError(w, http.StatusNotFound, "no route "+r.URL.Path)
		return
	}
	var req request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad JSON: "+err.Error())
		return
	}
	if req.Model != s.opts.Model {
		writeError(w, http.StatusNotFound, fmt.Sprintf("The model `%s` does not exist", req.Model))
		return
	}
	chat := r.URL.Path == "/v1/chat/completions"
	prompt := ""
	switch {
	case chat && len(req.Messages) == 1:
		prompt = req.Messages[0].Content
	case !chat && req.Prompt != nil:
		prompt = *req.Prompt
	default:
		writeError(w, http.StatusBadRequest, "want a prompt (or one message)")
		return
	}
	if req.MaxTokens < 1 || req.Seed == nil {
		writeError(w, http.StatusBadRequest, "want max_tokens >= 1 and a seed")
		return
	}
	key := fmt.Sprintf("%s\x00%d\x00%d\x00%s\x00%v", r.URL.Path, *req.Seed, req.MaxTokens, prompt, req.Stop)

	s.mu.Lock()
	s.arrivals++
	var fault Fault
	if s.opts.FaultEvery > 0 && s.arrivals%s.opts.FaultEvery == 0 {
		fault = s.opts.Faults[(s.arrivals/s.opts.FaultEvery-1)%len(s.opts.Faults)]
		s.injected[fault]++
	}
	s.mu.Unlock()

	text, finish := Generate(prompt, *req.Seed, req.MaxTokens)
	pt, ct := len(strings.Fields(prompt))+1, len(strings.Fields(text))
	body := completionBody(chat, s.opts.Model, text, finish, pt, ct)
	switch fault {
	case Fault429:
		writeError(w, http.StatusTooManyRequests, "Rate limit reached")
		return
	case Fault429RetryAfter:
		w.Header().Set("Retry-After", s.opts.RetryAfter)
		writeError(w, http.StatusTooManyRequests, "Rate limit reached")
		return
	case Fault500:
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	case Fault503:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("<html><body>503 Service Unavailable</body></html>"))
		return
	case FaultSlow:
		select {
		case <-r.Context().Done():
			return
		case <-time.After(s.opts.Slow):
		}
		// the client gave up long ago: nobody reads this answer
		return
	case FaultTruncated:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		w.Write(body[:len(body)/2])
		panic(http.ErrAbortHandler) // closes the connection: the client reads a short body
	case FaultClose:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(body[:len(body)/3])
		w.(http.Flusher).Flush() // chunked: the connection dies mid-chunk stream
		panic(http.ErrAbortHandler)
	case FaultMalformed:
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id": "cmpl-1", "choices": [{"text": "` + "\x01"))
		return
	}
	if f := s.opts.BeforeAnswer; f != nil {
		s.mu.Lock()
		n := 0
		for _, c := range s.answered {
			n += c
		}
		s.mu.Unlock()
		if !f(n) {
			<-r.Context().Done()
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if _, err := w.Write(body); err != nil {
		return
	}
	s.mu.Lock()
	s.answered[key]++
	s.usage[0] += pt
	s.usage[1] += ct
	s.mu.Unlock()
}

func completionBody(chat bool, model, text, finish string, pt, ct int) []byte {
	usage := map[string]any{"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}
	var v map[string]any
	if chat {
		v = map[string]any{"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": model, "usage": usage,
			"choices": []any{map[string]any{"index": 0, "finish_reason": finish, "message": map[string]any{"role": "assistant", "content": text}}}}
	} else {
		v = map[string]any{"id": "cmpl-1", "object": "text_completion", "created": 0, "model": model, "usage": usage,
			"choices": []any{map[string]any{"index": 0, "finish_reason": finish, "text": text, "logprobs": nil}}}
	}
	b, _ := json.Marshal(v)
	return b
}

var words = strings.Fields("good great fine bad awful plain the a movie film plot acting was is very not quite really")

// Generate is the server's deterministic model: up to maxTokens words
// chosen by a hash of the prompt and seed; finish "stop" when it ends
// before maxTokens, else "length".
func Generate(prompt string, seed int64, maxTokens int) (string, string) {
	h := sha256.Sum256([]byte(fmt.Sprintf("%d\x00%s", seed, prompt)))
	n := 1 + int(h[0])%(maxTokens+2)
	finish := "stop"
	if n >= maxTokens {
		n, finish = maxTokens, "length"
	}
	out := make([]string, n)
	for i := range out {
		x := binary.LittleEndian.Uint16(h[(2*i)%30:])
		out[i] = words[int(x+uint16(i))%len(words)]
	}
	return " " + strings.Join(out, " "), finish
}
