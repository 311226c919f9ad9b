package openai

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"promptgan/targets/backend"
)

// Endpoints Options.Endpoint chooses between.
const (
	EndpointCompletions = "completions"
	EndpointChat        = "chat"
)

// Byte vocabulary: ids 0..255 are bytes, EndID ends a generation.
const (
	EndID = 256
	Vocab = 257
)

// DefaultAPIKeyEnv is the environment variable the API key is read from.
const DefaultAPIKeyEnv = "OPENAI_API_KEY"

const fingerprintVersion = "promptgan/target/openai/v1"

// Options configure Open. Zero values take the defaults named.
type Options struct {
	BaseURL   string // the server's API root, e.g. http://127.0.0.1:8000/v1; required
	Model     string // the model name the server knows; required
	APIKeyEnv string // environment variable holding the API key; OPENAI_API_KEY
	Endpoint  string // EndpointCompletions (default) or EndpointChat

	// Decode settings, sent with every call (and in the fingerprint).
	MaxTokens   int      // max_tokens; required (> 0)
	Temperature *float64 // nil = 1
	TopP        *float64 // nil = 1
	Stop        []string // stop sequences; none
	// SeedBits is how a request's 64-bit seed is sent: 31 (0 = the
	// default) sends seed mod 2^31, which every server takes (some parse
	// the seed as a 32-bit integer); 64 sends all its bits as an int64,
	// which promptgan serve maps back exactly, so that a run through it
	// draws the same generations as the same run in-process.
	SeedBits int

	Concurrency   int           // calls in flight at once across a batch; 8
	Timeout       time.Duration // per HTTP attempt; 60s
	MaxRetries    int           // retries after the first attempt; 6 (negative = 0)
	Backoff       time.Duration // first backoff, doubled per retry; 500ms
	MaxBackoff    time.Duration // cap of a backoff; 30s
	MaxRetryAfter time.Duration // cap of a server's Retry-After; 60s

	HTTPClient *http.Client        // nil = a client keeping Concurrency idle connections to the server
	Getenv     func(string) string // nil = os.Getenv
	Logger     *slog.Logger        // retries are logged at debug level; nil = slog.Default()
}

// Stats counts what a Model did since Open.
type Stats struct {
	Calls                          int64 // requests answered (paid)
	Attempts                       int64 // HTTP attempts
	Retries                        int64 // attempts after a retryable failure
	PromptTokens, CompletionTokens int64
}

// Model is an OpenAI-compatible model behind backend.Model.
type Model struct {
	opts   Options
	client sdk.Client
	fp     string
	log    *slog.Logger

	calls, attempts, retries, promptTok, complTok atomic.Int64
}

// Open checks opts, reads the API key from the environment and returns the
// model. It makes no network call (Check does).
func Open(opts Options) (*Model, error) {
	if opts.APIKeyEnv == "" {
		opts.APIKeyEnv = DefaultAPIKeyEnv
	}
	if opts.Endpoint == "" {
		opts.Endpoint = EndpointCompletions
	}
	if opts.SeedBits == 0 {
		opts.SeedBits = 31
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = 8
	}
	if opts.Timeout == 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 6
	}
	opts.MaxRetries = max(opts.MaxRetries, 0)
	if opts.Backoff == 0 {
		opts.Backoff = 500 * time.Millisecond
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.MaxRetryAfter == 0 {
		opts.MaxRetryAfter = 60 * time.Second
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	u, err := url.Parse(opts.BaseURL)
	switch {
	case opts.BaseURL == "":
		return nil, errors.New("no base URL: give the server's API root, e.g. --base-url http://127.0.0.1:8000/v1")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, fmt.Errorf("base URL %q: want http://HOST[:PORT]/PATH or https://…, e.g. http://127.0.0.1:8000/v1", opts.BaseURL)
	case u.User != nil:
		return nil, errors.New("base URL: holds a user name or password; put the key in the environment variable instead")
	case opts.Model == "":
		return nil, errors.New("no model name: --target openai:MODEL")
	case opts.Endpoint != EndpointCompletions && opts.Endpoint != EndpointChat:
		return nil, fmt.Errorf("endpoint %q: choose %s or %s", opts.Endpoint, EndpointCompletions, EndpointChat)
	case opts.MaxTokens <= 0:
		return nil, fmt.Errorf("max_tokens = %d: must be > 0", opts.MaxTokens)
	case opts.Temperature != nil && (*opts.Temperature < 0 || *opts.Temperature > 2):
		return nil, fmt.Errorf("temperature = %v: must be in [0, 2]", *opts.Temperature)
	case opts.TopP != nil && (*opts.TopP <= 0 || *opts.TopP > 1):
		return nil, fmt.Errorf("top_p = %v: must be in (0, 1]", *opts.TopP)
	case opts.SeedBits != 0 && opts.SeedBits != 31 && opts.SeedBits != 64:
		return nil, fmt.Errorf("seed_bits = %d: choose 31 (seed mod 2^31, any server) or 64 (the whole seed, e.g. promptgan serve)", opts.SeedBits)
	case opts.Concurrency < 0:
		return nil, fmt.Errorf("concurrency = %d: must be >= 1", opts.Concurrency)
	case opts.Timeout < 0:
		return nil, fmt.Errorf("timeout = %s: must be > 0", opts.Timeout)
	}
	key := opts.Getenv(opts.APIKeyEnv)
	if key == "" {
		return nil, fmt.Errorf("environment variable %s is not set: export it with the server's API key (a server without auth accepts any value, e.g. export %s=none)", opts.APIKeyEnv, opts.APIKeyEnv)
	}
	base := strings.TrimRight(opts.BaseURL, "/") + "/"
	copts := []option.RequestOption{
		option.WithBaseURL(base),
		option.WithAPIKey(key),
		option.WithMaxRetries(0), // retries are ours (see the package doc)
		// a local server is not told the user's OpenAI organisation or project
		option.WithHeaderDel("OpenAI-Organization"),
		option.WithHeaderDel("OpenAI-Project"),
	}
	if opts.HTTPClient == nil {
		// The SDK's default, http.DefaultClient, keeps 2 idle connections
		// per host: with more calls in flight, every call beyond two opens
		// a new connection (and leaves one in TIME_WAIT). Keep one per call.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = max(t.MaxIdleConns, opts.Concurrency)
		t.MaxIdleConnsPerHost = opts.Concurrency
		opts.HTTPClient = &http.Client{Transport: t}
	}
	copts = append(copts, option.WithHTTPClient(opts.HTTPClient))
	m := &Model{opts: opts, client: sdk.NewClient(copts...), log: log}
	m.fp = m.fingerprint()
	return m, nil
}

func (m *Model) fingerprint() string {
	f := func(p *float64) string {
		if p == nil {
			return "1"
		}
		return strconv.FormatFloat(*p, 'g', -1, 64)
	}
	stops := make([]string, len(m.opts.Stop))
	for i, s := range m.opts.Stop {
		stops[i] = strconv.Quote(s)
	}
	// seed=request stays the 31-bit form's, so that ledgers written before
	// seed_bits existed still answer
	seed := "seed=request"
	if m.opts.SeedBits == 64 {
		seed = "seed=request64"
	}
	return strings.Join([]string{
		fingerprintVersion,
		"base_url=" + strings.TrimRight(m.opts.BaseURL, "/"),
		"model=" + m.opts.Model,
		"endpoint=" + m.opts.Endpoint,
		"max_tokens=" + strconv.Itoa(m.opts.MaxTokens),
		"temperature=" + f(m.opts.Temperature),
		"top_p=" + f(m.opts.TopP),
		"stop=[" + strings.Join(stops, ",") + "]",
		seed,
	}, ";")
}

// Fingerprint is the canonical string of the package doc.
func (m *Model) Fingerprint() string { return m.fp }

// Stats returns the model's counters.
func (m *Model) Stats() Stats {
	return Stats{Calls: m.calls.Load(), Attempts: m.attempts.Load(), Retries: m.retries.Load(),
		PromptTokens: m.promptTok.Load(), CompletionTokens: m.complTok.Load()}
}

// Encode returns text's UTF-8 bytes as ids: the byte tokenizer.
func (m *Model) Encode(text string) ([]int32, error) {
	ids := make([]int32, len(text))
	for i := range len(text) {
		ids[i] = int32(text[i])
	}
	return ids, nil
}

// Decode returns the text of byte ids; EndID is dropped.
func (m *Model) Decode(ids []int32) (string, error) {
	b := make([]byte, 0, len(ids))
	for i, id := range ids {
		switch {
		case id == EndID:
		case id < 0 || id > 255:
			return "", fmt.Errorf("token %d: id %d is not a byte (0..255) or the end id %d", i, id, EndID)
		default:
			b = append(b, byte(id))
		}
	}
	return string(b), nil
}

// context returns the text a request sends: its input's bytes, then its prompt's.
func requestText(r backend.Request) (string, error) {
	b := make([]byte, 0, len(r.Input)+len(r.Prompt))
	for _, part := range [][]int32{r.Input, r.Prompt} {
		for _, id := range part {
			switch {
			case id == EndID:
			case id < 0 || id > 255:
				return "", fmt.Errorf("token id %d is not a byte (0..255): the openai target's vocabulary is bytes", id)
			default:
				b = append(b, byte(id))
			}
		}
	}
	return string(b), nil
}

// Generate answers each request, at most Options.Concurrency calls at once.
// The first call that fails for good cancels the others and is returned.
func (m *Model) Generate(ctx context.Context, reqs []backend.Request) ([]backend.Generation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	texts := make([]string, len(reqs))
	for i, r := range reqs {
		t, err := requestText(r)
		if err != nil {
			return nil, fmt.Errorf("request %d: %w", i, err)
		}
		texts[i] = t
	}
	out := make([]backend.Generation, len(reqs))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, m.opts.Concurrency)
	var wg sync.WaitGroup
	for i := range reqs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			g, err := m.call(ctx, texts[i], reqs[i].Seed)
			if err != nil {
				cancel(fmt.Errorf("request %d: %w", i, err))
				return
			}
			out[i] = g
			if f := backend.OnAnswer(ctx); f != nil {
				f(i, g)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// seedOf is the seed a request sends: with 31 bits its 64-bit seed mod
// 2^31, which every server takes (some parse the seed as a 32-bit
// integer); with 64 all its bits, as the int64 of the same bits.
func seedOf(s uint64, bits int) int64 {
	if bits == 64 {
		return int64(s)
	}
	return int64(s % (1 << 31))
}

// call sends one request, retrying what is worth retrying.
func (m *Model) call(ctx context.Context, text string, seed uint64) (backend.Generation, error) {
	var last error
	for attempt := 0; ; attempt++ {
		g, f := m.attempt(ctx, text, seed)
		if f == nil {
			m.calls.Add(1)
			m.promptTok.Add(int64(g.Usage.PromptTokens))
			m.complTok.Add(int64(g.Usage.CompletionTokens))
			return g, nil
		}
		if ctx.Err() != nil {
			return backend.Generation{}, context.Cause(ctx)
		}
		if !f.retry {
			return backend.Generation{}, f.err
		}
		last = f.err
		if attempt >= m.opts.MaxRetries {
			return backend.Generation{}, fmt.Errorf("gave up after %d attempts: %w", attempt+1, last)
		}
		wait := m.backoff(attempt, f.retryAfter, f.hasRetryAfter)
		m.retries.Add(1)
		m.log.Debug("openai: retrying", "attempt", attempt+1, "wait", wait, "err", f.err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return backend.Generation{}, context.Cause(ctx)
		case <-t.C:
		}
	}
}
