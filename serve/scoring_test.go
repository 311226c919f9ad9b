package serve

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"promptgan/internal/ort/orttest"
	"promptgan/search"
	"promptgan/targets"
)

// tinyTextRun is a text run of a few steps on search's reviews task
// (hashing encoder, the tiny GPT-2 as target): a real Scorer.
func tinyTextRun(t *testing.T) *search.Trainer {
	t.Helper()
	orttest.LoadOrSkip(t)
	o, err := targets.Open(targets.Config{Name: tinyGPT2, MaxNewTokens: 6})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	c, err := search.Preset("text")
	if err != nil {
		t.Fatal(err)
	}
	c.Task, c.Target = "../search/testdata/reviews.jsonl", tinyGPT2
	c.Encoder = "hashing:64"
	c.Generator.Emb, c.Generator.Hidden = 8, 8
	c.TextDiscriminator.Hidden, c.TextDiscriminator.Members = 8, 2
	c.PromptLen, c.GenLen = 3, 6
	c.BatchSize = 4
	c.Steps, c.MLESteps, c.DPretrainSteps = 6, 2, 3
	c.ValidationShare, c.TestShare = 0.25, 0.25
	c.ReplaySize, c.EvalEvery, c.EvalSamples, c.CheckpointEvery, c.HallOfFame = 16, 4, 6, 100, 3
	tr, err := search.New(c, o.Text)
	if err != nil {
		t.Fatal(err)
	}
	for range c.Steps {
		if _, err := tr.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

// TestScoringAPI checks each scoring route's answer against the same call
// made in-process, and its refusals.
func TestScoringAPI(t *testing.T) {
	tr := tinyTextRun(t)
	r := start(t, Config{Scorer: tr, Token: "tok"})
	c := &http.Client{}
	ctx := context.Background()
	decode := func(b []byte, v any) {
		t.Helper()
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
	}

	status, b, _ := post(t, c, r.url+"/v1/score/pairs", "tok", `{"pairs": [{"generation": "the soup was wonderful"}, {"generation": "the staff was awful"}]}`)
	if status != 200 {
		t.Fatalf("pairs: %d %s", status, b)
	}
	var pairs ScoresResponse[search.PairScore]
	decode(b, &pairs)
	wantPairs, err := tr.ScorePairs(ctx, []search.Pair{{Generation: "the soup was wonderful"}, {Generation: "the staff was awful"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pairs.Scores, wantPairs) {
		t.Fatalf("pairs: %+v, in-process %+v", pairs.Scores, wantPairs)
	}

	status, b, _ = post(t, c, r.url+"/v1/score/prompts", "tok", `{"prompts": ["the room was", "we will"], "samples": 3, "seed": 9, "generations": true}`)
	if status != 200 {
		t.Fatalf("prompts: %d %s", status, b)
	}
	var prompts ScoresResponse[search.PromptScore]
	decode(b, &prompts)
	wantPrompts, err := tr.ScorePrompts(ctx, []string{"the room was", "we will"}, search.ScoreOptions{Samples: 3, Seed: 9, Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	// The generations pass through JSON (the tiny model writes bytes that
	// are not UTF-8): compare with the in-process answer as JSON carries it.
	var wantJSON []search.PromptScore
	roundTrip(t, wantPrompts, &wantJSON)
	if !reflect.DeepEqual(prompts.Scores, wantJSON) || len(prompts.Scores[0].Generations) != 3 {
		t.Fatalf("prompts: %+v, in-process %+v", prompts.Scores, wantPrompts)
	}

	status, b, _ = post(t, c, r.url+"/v1/search", "tok", `{"n": 12, "top": 3, "verify": 2, "seed": 4}`)
	if status != 200 {
		t.Fatalf("search: %d %s", status, b)
	}
	var res search.SearchResult
	decode(b, &res)
	want, err := tr.SearchPrompts(ctx, search.SearchOptions{Draws: 12, Temperature: 1, Screen: 1, Top: 3, Verify: 2, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	var wantRes search.SearchResult
	roundTrip(t, want, &wantRes)
	if !reflect.DeepEqual(res, wantRes) || res.Drawn != 12 || len(res.Verified) == 0 {
		t.Fatalf("search: %+v, in-process %+v", res, want)
	}

	for _, tc := range []struct{ path, body, param string }{
		{"/v1/score/pairs", `{"pairs": [{"input": "x", "generation": "y"}]}`, "pairs"}, // the task is input-free
		{"/v1/score/pairs", `{"pairs": []}`, "pairs"},
		{"/v1/score/pairs", `{"pairs": [{"generation": " "}]}`, "pairs"},
		{"/v1/score/pairs", `{"pairs": [{"generation": "x", "label": 1}]}`, "label"},
		{"/v1/score/prompts", `{"prompts": ["x"], "samples": 0}`, "samples"},
		{"/v1/score/prompts", `{"prompt": ["x"]}`, "prompt"},
		{"/v1/search", `{"n": 100000}`, "n"},
		{"/v1/search", `{"temperature": -1}`, "temperature"},
		{"/v1/search", `{"top": "3"}`, "top"},
	} {
		status, b, _ := post(t, c, r.url+tc.path, "tok", tc.body)
		if status != 400 {
			t.Errorf("%s %s: %d %s, want 400", tc.path, tc.body, status, b)
			continue
		}
		if _, _, param, _ := errorBody(t, b); param != tc.param {
			t.Errorf("%s %s: param %q, want %q", tc.path, tc.body, param, tc.param)
		}
	}
}

func roundTrip(t *testing.T, v, out any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}
