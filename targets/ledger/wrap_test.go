package ledger

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"

	"promptgan/targets/backend"
)

// countingModel is a deterministic fake target that records what it is asked.
type countingModel struct {
	mu    sync.Mutex
	fp    string
	calls int               // Generate calls
	asked []backend.Request // every request received, in order
	err   error             // returned by Generate when set
	short bool              // answer one generation too few
	block chan struct{}     // when set, Generate waits for it or for ctx
}

// answer is the fake model's generation for r: the prompt reversed, then the
// input, then the seed.
func answer(r backend.Request) backend.Generation {
	t := slices.Clone(r.Prompt)
	slices.Reverse(t)
	t = append(t, r.Input...)
	return backend.Generation{Tokens: append(t, int32(r.Seed))}
}

func (m *countingModel) Fingerprint() string { return m.fp }

func (m *countingModel) Generate(ctx context.Context, reqs []backend.Request) ([]backend.Generation, error) {
	m.mu.Lock()
	m.calls++
	m.asked = append(m.asked, reqs...)
	m.mu.Unlock()
	if m.block != nil {
		select {
		case <-m.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if m.err != nil {
		return nil, m.err
	}
	out := make([]backend.Generation, len(reqs))
	for i, r := range reqs {
		out[i] = answer(r)
	}
	if m.short {
		out = out[:len(out)-1]
	}
	return out, nil
}

func batch(ids ...int) []backend.Request {
	out := make([]backend.Request, len(ids))
	for i, id := range ids {
		out[i] = req(id)
	}
	return out
}

func checkAnswers(t *testing.T, reqs []backend.Request, gens []backend.Generation) {
	t.Helper()
	if len(gens) != len(reqs) {
		t.Fatalf("%d generations for %d requests", len(gens), len(reqs))
	}
	for i, r := range reqs {
		if want := answer(r); !slices.Equal(gens[i].Tokens, want.Tokens) {
			t.Fatalf("generation %d = %v, want %v", i, gens[i].Tokens, want.Tokens)
		}
	}
}

// TestReplay is "a resumed run replays from the ledger": the same batch run
// again, in the same process or after reopening, makes no model call.
func TestReplay(t *testing.T) {
	dir := t.TempDir()
	reqs := batch(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
	fake := &countingModel{fp: testFP}
	l, _ := mustOpen(t, dir, Options{})
	m := Wrap(fake, l, WrapOptions{})
	if m.Fingerprint() != testFP {
		t.Errorf("Fingerprint = %q", m.Fingerprint())
	}
	for run := range 2 {
		gens, err := m.Generate(context.Background(), reqs)
		if err != nil {
			t.Fatal(err)
		}
		checkAnswers(t, reqs, gens)
		if fake.calls != 1 || len(fake.asked) != len(reqs) {
			t.Fatalf("run %d: model called %d times with %d requests, want once with %d", run, fake.calls, len(fake.asked), len(reqs))
		}
	}
	if st := l.Stats(); st.Hits != 12 || st.Misses != 12 || st.Records != 12 {
		t.Errorf("Stats = %+v, want 12 hits, 12 misses, 12 records", st)
	}
	l.Close()

	resumed := &countingModel{fp: testFP}
	l2, _ := mustOpen(t, dir, Options{})
	gens, err := Wrap(resumed, l2, WrapOptions{}).Generate(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	checkAnswers(t, reqs, gens)
	if resumed.calls != 0 {
		t.Errorf("resumed run called the model %d times, want 0", resumed.calls)
	}
	if st := l2.Stats(); st.Hits != 12 || st.Misses != 0 {
		t.Errorf("resumed Stats = %+v, want 12 hits, 0 misses", st)
	}

	// Another fingerprint (model or decode settings) shares nothing.
	other := &countingModel{fp: testFP + "/temperature=0.7"}
	if _, err := Wrap(other, l2, WrapOptions{}).Generate(context.Background(), reqs); err != nil {
		t.Fatal(err)
	}
	if len(other.asked) != len(reqs) {
		t.Errorf("model with another fingerprint was asked %d requests, want %d", len(other.asked), len(reqs))
	}
}

// TestMixedHitsAndMisses: only the misses reach the model, once, in order,
// and the answers come back in request order.
func TestMixedHitsAndMisses(t *testing.T) {
	tests := []struct {
		name       string
		known      []int // in the ledger before
		ask        []int
		wantAsked  []int
		wantHits   int64
		wantMisses int64
	}{
		{"all misses", nil, []int{3, 1, 2}, []int{3, 1, 2}, 0, 3},
		{"all hits", []int{1, 2, 3}, []int{3, 1, 2}, nil, 3, 0},
		{"alternating", []int{1, 3, 5}, []int{0, 1, 2, 3, 4, 5, 6}, []int{0, 2, 4, 6}, 3, 4},
		{"duplicates sent once", []int{1}, []int{2, 1, 2, 2, 4, 1, 4}, []int{2, 4}, 5, 2},
		{"empty batch", []int{1}, []int{}, nil, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := mustOpen(t, t.TempDir(), Options{})
			for _, i := range tc.known {
				if err := l.Append(Key(testFP, req(i)), answer(req(i))); err != nil {
					t.Fatal(err)
				}
			}
			fake := &countingModel{fp: testFP}
			reqs := batch(tc.ask...)
			gens, err := Wrap(fake, l, WrapOptions{}).Generate(context.Background(), reqs)
			if err != nil {
				t.Fatal(err)
			}
			checkAnswers(t, reqs, gens)
			if !slicesEqualReqs(fake.asked, batch(tc.wantAsked...)) {
				t.Errorf("model asked %v, want %v", fake.asked, batch(tc.wantAsked...))
			}
			if wantCalls := min(len(tc.wantAsked), 1); fake.calls != wantCalls {
				t.Errorf("model called %d times, want %d", fake.calls, wantCalls)
			}
			if st := l.Stats(); st.Hits != tc.wantHits || st.Misses != tc.wantMisses || st.Records != len(tc.known)+len(tc.wantAsked) {
				t.Errorf("Stats = %+v, want %d hits, %d misses", st, tc.wantHits, tc.wantMisses)
			}
			// Answers are the caller's to change.
			for _, g := range gens {
				clear(g.Tokens)
			}
			again, err := Wrap(fake, l, WrapOptions{}).Generate(context.Background(), reqs)
			if err != nil {
				t.Fatal(err)
			}
			checkAnswers(t, reqs, again)
		})
	}
}

func slicesEqualReqs(a, b []backend.Request) bool {
	return slices.EqualFunc(a, b, func(x, y backend.Request) bool {
		return slices.Equal(x.Prompt, y.Prompt) && slices.Equal(x.Input, y.Input) && x.Seed == y.Seed
	})
}

// TestModelFailure: a failing model's error comes back unchanged and nothing
// is recorded.
func TestModelFailure(t *testing.T) {
	errDown := errors.New("target down")
	tests := []struct {
		name  string
		model *countingModel
		want  error
	}{
		{"model error", &countingModel{fp: testFP, err: errDown}, errDown},
		{"too few generations", &countingModel{fp: testFP, short: true}, nil},
		{"empty fingerprint", &countingModel{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := mustOpen(t, t.TempDir(), Options{})
			if err := l.Append(Key(testFP, req(1)), answer(req(1))); err != nil {
				t.Fatal(err)
			}
			size := l.Stats().Bytes
			gens, err := Wrap(tc.model, l, WrapOptions{}).Generate(context.Background(), batch(0, 1, 2))
			if err == nil || gens != nil {
				t.Fatalf("Generate = %v, %v; want an error", gens, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			t.Logf("error: %v", err)
			if st := l.Stats(); st.Records != 1 || st.Bytes != size || fileSize(t, l.Path()) != size {
				t.Errorf("failed call recorded something: %+v", st)
			}
		})
	}
}

func TestContextCancellation(t *testing.T) {
	l, _ := mustOpen(t, t.TempDir(), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fake := &countingModel{fp: testFP}
	if _, err := Wrap(fake, l, WrapOptions{}).Generate(ctx, batch(0)); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: err = %v", err)
	}
	if fake.calls != 0 {
		t.Errorf("model called %d times under a canceled context", fake.calls)
	}

	// Canceled while the model works: its error comes back, nothing is recorded.
	blocked := &countingModel{fp: testFP, block: make(chan struct{})}
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := Wrap(blocked, l, WrapOptions{}).Generate(ctx, batch(0, 1))
		done <- err
	}()
	for {
		blocked.mu.Lock()
		started := blocked.calls == 1
		blocked.mu.Unlock()
		if started {
			break
		}
		runtime.Gosched()
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled during the call: err = %v", err)
	}
	if l.Len() != 0 {
		t.Errorf("canceled call recorded %d records", l.Len())
	}
}

// TestNoCache: every request reaches the model, new generations are written
// through, a recorded key keeps its first generation, and a later cached run
// replays everything.
func TestNoCache(t *testing.T) {
	l, _ := mustOpen(t, t.TempDir(), Options{})
	first := backend.Generation{Tokens: []int32{-7}}
	if err := l.Append(Key(testFP, req(1)), first); err != nil {
		t.Fatal(err)
	}
	fake := &countingModel{fp: testFP}
	reqs := batch(0, 1, 2, 2)
	gens, err := Wrap(fake, l, WrapOptions{NoCache: true}).Generate(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	checkAnswers(t, reqs, gens) // fresh answers, also for the recorded key
	if !slicesEqualReqs(fake.asked, reqs) {
		t.Errorf("model asked %v, want the whole batch %v", fake.asked, reqs)
	}
	if st := l.Stats(); st.Hits != 0 || st.Misses != 4 || st.Records != 3 {
		t.Errorf("Stats = %+v, want 0 hits, 4 misses, 3 records", st)
	}
	if g, _ := l.Get(Key(testFP, req(1))); !slices.Equal(g.Tokens, first.Tokens) {
		t.Errorf("recorded generation replaced: %v", g.Tokens)
	}
	cachedFake := &countingModel{fp: testFP}
	if _, err := Wrap(cachedFake, l, WrapOptions{}).Generate(context.Background(), batch(0, 2)); err != nil {
		t.Fatal(err)
	}
	if cachedFake.calls != 0 {
		t.Errorf("generations written through under NoCache were not reused")
	}
}

func TestWrapNilLedger(t *testing.T) {
	fake := &countingModel{fp: testFP}
	if Wrap(fake, nil, WrapOptions{}) != backend.Model(fake) {
		t.Error("Wrap with a nil ledger does not return the model itself")
	}
}

// TestConcurrentGenerate: overlapping batches from many goroutines agree
// with the ledger and with each other (run with -race).
func TestConcurrentGenerate(t *testing.T) {
	l, _ := mustOpen(t, t.TempDir(), Options{})
	fake := &countingModel{fp: testFP}
	m := Wrap(fake, l, WrapOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 20 {
				reqs := batch(g+round, round, (g*round)%13, 5)
				gens, err := m.Generate(context.Background(), reqs)
				if err != nil {
					errs <- err
					return
				}
				for i, r := range reqs {
					if !slices.Equal(gens[i].Tokens, answer(r).Tokens) {
						errs <- fmt.Errorf("goroutine %d round %d: answer %d wrong", g, round, i)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := l.Stats()
	if st.Hits+st.Misses != 8*20*4 || st.Records != l.Len() {
		t.Errorf("Stats = %+v, want %d requests", st, 8*20*4)
	}
	if int64(len(fake.asked)) != st.Misses {
		t.Errorf("model asked %d requests, Stats counts %d misses", len(fake.asked), st.Misses)
	}
}
