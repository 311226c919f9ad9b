package serve

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"promptgan/search"
	"promptgan/targets/onnx"
)

// Scorer is the scoring API's engine: a text run's checkpoint restored by
// search (*search.Trainer). Its calls are serialised by the server (a
// Trainer is not safe for concurrent use).
type Scorer interface {
	ScorePrompts(ctx context.Context, prompts []string, opt search.ScoreOptions) ([]search.PromptScore, error)
	ScorePairs(ctx context.Context, pairs []search.Pair, score search.PairScorer) ([]search.PairScore, error)
	SearchPrompts(ctx context.Context, opt search.SearchOptions) (search.SearchResult, error)
}

// Defaults of the zero Config.
const (
	DefaultAddr              = "127.0.0.1:8080"
	DefaultMaxBodyBytes      = 1 << 20
	DefaultMaxConcurrent     = 64
	DefaultRequestTimeout    = 60 * time.Second
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultShutdownGrace     = 30 * time.Second
	DefaultMaxBatch          = 32
	DefaultBatchWindow       = 5 * time.Millisecond
	DefaultMaxTokens         = 256
	DefaultDefaultMaxTokens  = 16
	DefaultMaxPrompts        = 64
	DefaultMaxDecoders       = 4
)

// Config configures a Server. Zero fields take the defaults above.
type Config struct {
	// Token, when set, is required as "Authorization: Bearer TOKEN" on
	// every route but /healthz. Listen refuses an address that is not
	// loopback without one.
	Token string

	ModelDir  string       // an Optimum-layout ONNX directory served on /v1/completions and /v1/chat/completions; "" = none
	ModelName string       // its name in requests and /v1/models; "" = the directory's base name
	Model     onnx.Options // library, device, threads (Decode and BatchSize are set per request)

	Scorer Scorer // the scoring API (/v1/score/*, /v1/search); nil = none

	MaxBodyBytes      int64         // request bodies above are answered 413
	MaxConcurrent     int           // requests on /v1/* at once; more are answered 503 with Retry-After
	RequestTimeout    time.Duration // each /v1/* request's deadline (answered 504 when passed)
	ReadHeaderTimeout time.Duration // slow-loris: the whole header must arrive within it
	ReadTimeout       time.Duration // the whole request, body included
	IdleTimeout       time.Duration // keep-alive connections idle longer are closed
	ShutdownGrace     time.Duration // Serve waits this long for in-flight requests when its context ends

	MaxBatch    int           // requests decoded together
	BatchWindow time.Duration // how long the first request of a batch waits for others
	MaxDecoders int           // distinct decoding settings (temperature, top_p, max_tokens bucket) open at once
	Limits      Limits        // per-request bounds of the completions endpoints

	Seed   uint64       // seeds the requests that give no seed
	Logger *slog.Logger // nil = discard

	// Now is the clock of the responses' created times (and of the
	// server's own, GET /v1/models' created); nil = time.Now. A field
	// rather than a package variable so that a test can fix it for its
	// server alone.
	Now func() time.Time
}

func (c *Config) defaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	def(&c.MaxConcurrent, DefaultMaxConcurrent)
	def(&c.MaxBatch, DefaultMaxBatch)
	def(&c.MaxDecoders, DefaultMaxDecoders)
	def(&c.Limits.MaxTokens, DefaultMaxTokens)
	def(&c.Limits.DefaultMaxTokens, min(DefaultDefaultMaxTokens, c.Limits.MaxTokens))
	def(&c.Limits.MaxPrompts, DefaultMaxPrompts)
	defDur(&c.RequestTimeout, DefaultRequestTimeout)
	defDur(&c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	defDur(&c.ReadTimeout, DefaultReadTimeout)
	defDur(&c.IdleTimeout, DefaultIdleTimeout)
	defDur(&c.ShutdownGrace, DefaultShutdownGrace)
	defDur(&c.BatchWindow, DefaultBatchWindow)
	if c.ModelDir != "" && c.ModelName == "" {
		c.ModelName = filepath.Base(filepath.Clean(c.ModelDir))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func (c *Config) check() error {
	bad := func(field string, v any, want string) error { return fmt.Errorf("serve: %s = %v: %s", field, v, want) }
	switch {
	case c.ModelDir == "" && c.Scorer == nil:
		return errors.New("serve: nothing to serve: give a model directory, a run to score with, or both")
	case c.MaxBodyBytes < 1:
		return bad("MaxBodyBytes", c.MaxBodyBytes, "must be ≥ 1")
	case c.MaxConcurrent < 1:
		return bad("MaxConcurrent", c.MaxConcurrent, "must be ≥ 1")
	case c.MaxBatch < 1:
		return bad("MaxBatch", c.MaxBatch, "must be ≥ 1")
	case c.MaxDecoders < 1:
		return bad("MaxDecoders", c.MaxDecoders, "must be ≥ 1")
	case c.Limits.MaxTokens < 1:
		return bad("Limits.MaxTokens", c.Limits.MaxTokens, "must be ≥ 1")
	case c.Limits.DefaultMaxTokens < 1 || c.Limits.DefaultMaxTokens > c.Limits.MaxTokens:
		return bad("Limits.DefaultMaxTokens", c.Limits.DefaultMaxTokens, fmt.Sprintf("must be in [1, %d]", c.Limits.MaxTokens))
	case c.Limits.MaxPrompts < 1:
		return bad("Limits.MaxPrompts", c.Limits.MaxPrompts, "must be ≥ 1")
	}
	for name, d := range map[string]time.Duration{"RequestTimeout": c.RequestTimeout, "ReadHeaderTimeout": c.ReadHeaderTimeout,
		"ReadTimeout": c.ReadTimeout, "IdleTimeout": c.IdleTimeout, "ShutdownGrace": c.ShutdownGrace, "BatchWindow": c.BatchWindow} {
		if d < 0 {
			return bad(name, d, "must be > 0")
		}
	}
	return nil
}

// Server serves a model's completions and a run's scoring API over HTTP.
type Server struct {
	cfg     Config
	pool    *pool
	info    onnx.Info
	model   *onnx.Model // the default decoder's model: tokenizer and limits
	created int64       // the server's start (Unix s): the model's created in /v1/models and the ids' prefix
	metrics *metrics
	slots   chan struct{} // MaxConcurrent tokens

	scoreSem chan struct{} // one Scorer call at a time (a channel: waiting honours the request's context)

	seedMu sync.Mutex
	seeds  *rand.Rand // seeds of requests without one
	idMu   sync.Mutex
	nextID uint64
	tokSum [32]byte // SHA-256 of the token: compared in constant time
}

// New checks cfg, opens the model (when one is given) and builds the
// server; Close releases it.
func New(cfg Config) (*Server, error) {
	cfg.defaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, created: cfg.Now().Unix(), slots: make(chan struct{}, cfg.MaxConcurrent), scoreSem: make(chan struct{}, 1),
		seeds: rand.New(rand.NewPCG(cfg.Seed, 0x7365727665))} // "serve"
	if cfg.Token != "" {
		s.tokSum = sha256.Sum256([]byte(cfg.Token))
	}
	s.metrics = newMetrics()
	if cfg.ModelDir != "" {
		s.pool = newPool(cfg.ModelDir, cfg.Model, cfg.MaxDecoders, cfg.MaxBatch, cfg.BatchWindow, cfg.Logger, func(n int) { s.metrics.batch.Observe(float64(n)) })
		// The default settings' decoder, opened now: a bad directory fails
		// here, and its tokenizer and limits serve every request.
		key := decodeKey{temperature: 1, maxNew: bucket(cfg.Limits.DefaultMaxTokens, 0, 0)}
		d, err := s.pool.acquire(context.Background(), key)
		if err != nil {
			s.pool.close()
			return nil, fmt.Errorf("serve: %w", err)
		}
		// Never released: it stays open, so its tokenizer is always there.
		s.model, s.info = d.model, d.model.Info()
		if !s.info.Tokenizer {
			s.pool.close()
			return nil, fmt.Errorf("serve: %s has no usable tokenizer.json: the completions endpoints take and return text", cfg.ModelDir)
		}
	}
	return s, nil
}

// Close stops the decoders (after their in-flight batches).
func (s *Server) Close() {
	if s.pool != nil {
		s.pool.close()
	}
}

// Handler is the server's routes with their middleware.
//
// Every route but GET /healthz is behind the token (when one is set), and
// so are the answers to the paths it does not serve: a client without the
// token learns no route. With the token, a known path asked with another
// method is 405 with Allow, and an unknown path 404 listing the routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	var (
		listing []string                // "METHOD /path" of every route, in order: the 404's text
		paths   []string                // each path once, in order
		methods = map[string][]string{} // path → the methods it is served with
		public  = map[string]bool{}     // paths served without the token
	)
	route := func(method, path string, open bool, h http.Handler) {
		pattern := method + " " + path
		if !open {
			h = s.auth(h)
		}
		mux.Handle(pattern, s.instrument(pattern, h))
		if _, seen := methods[path]; !seen {
			paths = append(paths, path)
		}
		methods[path] = append(methods[path], method)
		if method == http.MethodGet { // ServeMux serves HEAD with a GET route
			methods[path] = append(methods[path], http.MethodHead)
		}
		public[path] = open
		listing = append(listing, method+" "+strings.ReplaceAll(path, "...", "")) // {id...} reads {id}
	}
	api := func(method, path string, h func(http.ResponseWriter, *http.Request) *APIError) {
		route(method, path, false, s.limit(s.apiHandler(h)))
	}
	if s.pool != nil {
		api(http.MethodPost, "/v1/completions", s.completions)
		api(http.MethodPost, "/v1/chat/completions", s.chatCompletions)
	}
	api(http.MethodGet, "/v1/models", s.models)
	api(http.MethodGet, "/v1/models/{id...}", s.retrieveModel) // ids may hold "/" (org/name)
	if s.cfg.Scorer != nil {
		api(http.MethodPost, "/v1/score/prompts", s.scorePrompts)
		api(http.MethodPost, "/v1/score/pairs", s.scorePairs)
		api(http.MethodPost, "/v1/search", s.search)
	}
	route(http.MethodGet, "/healthz", true, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]string{"status": "ok"})
	}))
	route(http.MethodGet, "/metrics", false, s.metrics.handler())

	// A pattern without a method is less specific than the same path with
	// one, so these catch only the other methods. Without them the
	// catch-all "/" below would take those requests and answer 404 (the
	// ServeMux answers 405 by itself only when no pattern matches at all).
	for _, path := range paths {
		allow := strings.Join(methods[path], ", ")
		var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, &APIError{Status: http.StatusMethodNotAllowed, Type: "invalid_request_error", Code: "method_not_allowed",
				Message: fmt.Sprintf("%s %s: method not allowed: the route takes %s", r.Method, r.URL.Path, allow)})
		})
		if !public[path] {
			h = s.auth(h)
		}
		mux.Handle(path, s.instrument("other", h))
	}
	routes := strings.Join(listing, ", ")
	mux.Handle("/", s.instrument("other", s.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &APIError{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "not_found",
			Message: fmt.Sprintf("no route %s %s: the routes are %s", r.Method, r.URL.Path, routes)})
	}))))
	return mux
}

// instrument counts each request by route and status, times it, and keeps
// the in-flight gauge.
func (s *Server) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.metrics.inFlight.Inc()
		defer s.metrics.inFlight.Dec()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		s.metrics.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// auth refuses a request without the bearer token (when one is set),
// comparing SHA-256 digests in constant time: neither the token's bytes nor
// its length leak through timing.
func (s *Server) auth(h http.Handler) http.Handler {
	if s.cfg.Token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearer(r.Header.Get("Authorization"))
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], s.tokSum[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="promptgan"`)
			msg := "missing bearer token: send Authorization: Bearer <token>"
			if ok {
				msg = "invalid bearer token"
			}
			writeError(w, &APIError{Status: http.StatusUnauthorized, Type: "authentication_error", Code: "invalid_api_key", Message: msg})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// bearer returns the credentials of an "Authorization: Bearer TOKEN"
// header value, and whether its scheme is Bearer. The scheme is compared
// without regard to case, as RFC 9110 §11.1 has it (clients send
// "bearer"); the token is returned as sent, for auth to compare exactly.
func bearer(header string) (token string, ok bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	// RFC 9110 §11.4: one or more spaces between the scheme and the token.
	return strings.TrimLeft(token, " "), true
}

// limit answers 503 with Retry-After when MaxConcurrent requests are
// already being served, rather than queueing without bound.
func (s *Server) limit(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.slots <- struct{}{}:
			defer func() { <-s.slots }()
			h.ServeHTTP(w, r)
		default:
			s.metrics.rejected.Inc()
			w.Header().Set("Retry-After", "1")
			writeError(w, &APIError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "overloaded",
				Message: fmt.Sprintf("the server is serving its limit of %d requests: retry after 1 s", s.cfg.MaxConcurrent)})
		}
	})
}

// apiHandler bounds the body and the time of a request and writes the
// handler's error in OpenAI's shape.
func (s *Server) apiHandler(h func(http.ResponseWriter, *http.Request) *APIError) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		if e := h(w, r.WithContext(ctx)); e != nil {
			if e.Status >= 500 {
				s.cfg.Logger.Warn("request failed", "route", r.URL.Path, "status", e.Status, "err", e.Message)
			}
			writeError(w, e)
		}
	})
}

// readBody reads a request's body within MaxBodyBytes.
func (s *Server) readBody(r *http.Request) ([]byte, *APIError) {
	b, err := io.ReadAll(r.Body)
	if err == nil {
		return b, nil
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, &APIError{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error", Code: "request_too_large",
			Message: fmt.Sprintf("the request body is over this server's limit of %d bytes", mbe.Limit)}
	}
	return nil, &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "read_body", Message: fmt.Sprintf("read the request body: %v", err)}
}

// failure maps an engine error to an API error: a deadline is 504, a client
// gone 499 (nginx's convention, never seen by that client), anything else
// 500 with the error's text.
func failure(ctx context.Context, what string, err error) *APIError {
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &APIError{Status: http.StatusGatewayTimeout, Type: "server_error", Code: "timeout", Message: what + ": the request took longer than this server's per-request timeout"}
	case errors.Is(err, context.Canceled):
		return &APIError{Status: 499, Type: "server_error", Code: "cancelled", Message: what + ": the client went away"}
	case errors.Is(err, errPoolFull):
		return &APIError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "overloaded", Message: what + ": " + err.Error() + "; retry later"}
	case errors.Is(err, errShutdown):
		return &APIError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "shutting_down", Message: what + ": " + err.Error()}
	}
	return &APIError{Status: http.StatusInternalServerError, Type: "server_error", Code: "internal", Message: what + ": " + err.Error()}
}

// IsLoopback reports whether addr (host:port) binds only the loopback
// interface: "localhost", 127.0.0.0/8 or ::1. An empty host binds every
// interface.
func IsLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("address %q: want host:port (e.g. %s): %w", addr, DefaultAddr, err)
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

// Listen opens addr ("" = DefaultAddr), refusing an address that is not
// loopback when the server has no token.
func (s *Server) Listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	lo, err := IsLoopback(addr)
	if err != nil {
		return nil, err
	}
	if !lo && s.cfg.Token == "" {
		return nil, fmt.Errorf("address %s is not loopback: serving it needs a token (--token or $%s), which clients send as Authorization: Bearer <token>", addr, TokenEnv)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// TokenEnv is the environment variable the CLI reads the token from when
// --token is not given.
const TokenEnv = "PROMPTGAN_SERVE_TOKEN"

// Serve serves on ln until ctx ends, then shuts down gracefully: the
// listener closes (new connections are refused), in-flight requests finish
// within ShutdownGrace, idle connections close. It returns nil after a
// graceful shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		// A response may take the whole request timeout to compute.
		WriteTimeout:   s.cfg.ReadTimeout + s.cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:    s.cfg.IdleTimeout,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug),
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.cfg.Logger.Info("shutting down: finishing in-flight requests", "grace", s.cfg.ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: in-flight requests still running after %v: %w", s.cfg.ShutdownGrace, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// requestID returns a new response id.
func (s *Server) requestID(prefix string) string {
	s.idMu.Lock()
	s.nextID++
	n := s.nextID
	s.idMu.Unlock()
	return fmt.Sprintf("%s-%d-%d", prefix, s.created, n)
}

func (s *Server) drawSeed() uint64 {
	s.seedMu.Lock()
	defer s.seedMu.Unlock()
	return s.seeds.Uint64()
}
