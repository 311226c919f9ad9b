package serve

import (
	"context"
	"net/http"
	"strings"

	"promptgan/search"
)

// Bounds of the scoring API's requests: each request is one call of the
// engine, serialised with the others.
const (
	MaxScorePrompts = 256
	MaxScoreSamples = 64
	MaxScorePairs   = 4096
	MaxSearchDraws  = 4096
	MaxSearchScreen = 16
	MaxSearchTop    = 64
	MaxSearchVerify = 64
)

// ScorePromptsRequest is the body of POST /v1/score/prompts.
type ScorePromptsRequest struct {
	Prompts     []string `json:"prompts"`               // 1…MaxScorePrompts non-blank prompts
	Samples     *int     `json:"samples,omitempty"`     // generations per prompt, 1…MaxScoreSamples; default 16
	Seed        *uint64  `json:"seed,omitempty"`        // seed of the target requests; default 1
	Generations bool     `json:"generations,omitempty"` // return every generation with its score
}

// ScorePairsRequest is the body of POST /v1/score/pairs.
type ScorePairsRequest struct {
	Pairs []search.Pair `json:"pairs"` // 1…MaxScorePairs {"input", "generation"}
}

// SearchRequest is the body of POST /v1/search (the defaults are
// `promptgan search`'s).
type SearchRequest struct {
	N           *int     `json:"n,omitempty"`           // prompts drawn from the generator, 1…MaxSearchDraws; default 256
	Temperature *float64 `json:"temperature,omitempty"` // the generator's sampling temperature, > 0; default 1
	Screen      *int     `json:"screen,omitempty"`      // generations per distinct prompt when ranking, 1…MaxSearchScreen; default 1
	Top         *int     `json:"top,omitempty"`         // prompts verified, 1…MaxSearchTop; default 10
	Verify      *int     `json:"verify,omitempty"`      // generations per verified prompt, 1…MaxSearchVerify; default 16
	Seed        *uint64  `json:"seed,omitempty"`        // default 1
}

// ScoresResponse is the answer of both score routes: one score per prompt
// or pair, in request order.
type ScoresResponse[T any] struct {
	Scores []T `json:"scores"`
}

func intIn(p *int, def, lo, hi int, param string) (int, *APIError) {
	if p == nil {
		return def, nil
	}
	if *p < lo || *p > hi {
		return 0, invalid(param, "%s = %d: must be in [%d, %d]", param, *p, lo, hi)
	}
	return *p, nil
}

// DecodeScorePrompts decodes and validates a /v1/score/prompts body.
func DecodeScorePrompts(body []byte) (search.ScoreOptions, []string, *APIError) {
	var req ScorePromptsRequest
	if e := decodeObject(body, &req, true); e != nil {
		return search.ScoreOptions{}, nil, e
	}
	if len(req.Prompts) < 1 || len(req.Prompts) > MaxScorePrompts {
		return search.ScoreOptions{}, nil, invalid("prompts", "%d prompts: give 1 to %d", len(req.Prompts), MaxScorePrompts)
	}
	for i, p := range req.Prompts {
		if strings.TrimSpace(p) == "" {
			return search.ScoreOptions{}, nil, invalid("prompts", "prompts[%d] is blank", i)
		}
	}
	samples, e := intIn(req.Samples, 16, 1, MaxScoreSamples, "samples")
	if e != nil {
		return search.ScoreOptions{}, nil, e
	}
	opt := search.ScoreOptions{Samples: samples, Seed: 1, Keep: req.Generations}
	if req.Seed != nil {
		opt.Seed = *req.Seed
	}
	return opt, req.Prompts, nil
}

// DecodeScorePairs decodes and validates a /v1/score/pairs body.
func DecodeScorePairs(body []byte) ([]search.Pair, *APIError) {
	var req ScorePairsRequest
	if e := decodeObject(body, &req, true); e != nil {
		return nil, e
	}
	if len(req.Pairs) < 1 || len(req.Pairs) > MaxScorePairs {
		return nil, invalid("pairs", "%d pairs: give 1 to %d", len(req.Pairs), MaxScorePairs)
	}
	for i, p := range req.Pairs {
		if strings.TrimSpace(p.Generation) == "" {
			return nil, invalid("pairs", "pairs[%d].generation is missing or blank", i)
		}
	}
	return req.Pairs, nil
}

// DecodeSearch decodes and validates a /v1/search body.
func DecodeSearch(body []byte) (search.SearchOptions, *APIError) {
	var req SearchRequest
	if e := decodeObject(body, &req, true); e != nil {
		return search.SearchOptions{}, e
	}
	opt := search.SearchOptions{Temperature: 1, Seed: 1}
	var e *APIError
	if opt.Draws, e = intIn(req.N, 256, 1, MaxSearchDraws, "n"); e != nil {
		return opt, e
	}
	if opt.Screen, e = intIn(req.Screen, 1, 1, MaxSearchScreen, "screen"); e != nil {
		return opt, e
	}
	if opt.Top, e = intIn(req.Top, 10, 1, MaxSearchTop, "top"); e != nil {
		return opt, e
	}
	if opt.Verify, e = intIn(req.Verify, 16, 1, MaxSearchVerify, "verify"); e != nil {
		return opt, e
	}
	if t := req.Temperature; t != nil {
		if !(*t > 0 && *t <= 100) {
			return opt, invalid("temperature", "temperature = %v: must be in (0, 100]", *t)
		}
		opt.Temperature = *t
	}
	if req.Seed != nil {
		opt.Seed = *req.Seed
	}
	return opt, nil
}

// scoring runs fn with the scorer to itself, waiting for it no longer
// than the request may.
func (s *Server) scoring(ctx context.Context, fn func() error) *APIError {
	select {
	case s.scoreSem <- struct{}{}:
	case <-ctx.Done():
		return failure(ctx, "wait for the scorer", ctx.Err())
	}
	defer func() { <-s.scoreSem }()
	if err := fn(); err != nil {
		if strings.Contains(err.Error(), "input-free") {
			return invalid("pairs", "%v", err)
		}
		return failure(ctx, "score", err)
	}
	return nil
}

func (s *Server) scorePrompts(w http.ResponseWriter, r *http.Request) *APIError {
	body, e := s.readBody(r)
	if e != nil {
		return e
	}
	opt, prompts, e := DecodeScorePrompts(body)
	if e != nil {
		return e
	}
	var out []search.PromptScore
	if e := s.scoring(r.Context(), func() (err error) {
		out, err = s.cfg.Scorer.ScorePrompts(r.Context(), prompts, opt)
		return err
	}); e != nil {
		return e
	}
	writeJSON(w, ScoresResponse[search.PromptScore]{Scores: out})
	return nil
}

func (s *Server) scorePairs(w http.ResponseWriter, r *http.Request) *APIError {
	body, e := s.readBody(r)
	if e != nil {
		return e
	}
	pairs, e := DecodeScorePairs(body)
	if e != nil {
		return e
	}
	var out []search.PairScore
	if e := s.scoring(r.Context(), func() (err error) {
		out, err = s.cfg.Scorer.ScorePairs(r.Context(), pairs, nil)
		return err
	}); e != nil {
		return e
	}
	writeJSON(w, ScoresResponse[search.PairScore]{Scores: out})
	return nil
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) *APIError {
	body, e := s.readBody(r)
	if e != nil {
		return e
	}
	opt, e := DecodeSearch(body)
	if e != nil {
		return e
	}
	var out search.SearchResult
	if e := s.scoring(r.Context(), func() (err error) {
		out, err = s.cfg.Scorer.SearchPrompts(r.Context(), opt)
		return err
	}); e != nil {
		return e
	}
	writeJSON(w, out)
	return nil
}
