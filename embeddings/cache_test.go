package embeddings

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

// countingEncoder maps a text to (len(text), first byte, calls) and records
// every batch it is asked to encode.
type countingEncoder struct {
	mu      sync.Mutex
	batches [][]string
	fail    error
	fp      string
}

func (c *countingEncoder) Encode(_ context.Context, texts []string) ([][]float32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return nil, c.fail
	}
	c.batches = append(c.batches, slices.Clone(texts))
	out := make([][]float32, len(texts))
	for i, t := range texts {
		first := float32(0)
		if t != "" {
			first = float32(t[0])
		}
		out[i] = []float32{float32(len(t)), first}
	}
	return out, nil
}
func (c *countingEncoder) Dim() int            { return 2 }
func (c *countingEncoder) Fingerprint() string { return "counting/" + c.fp }

func TestCacheHitsMissesEviction(t *testing.T) {
	enc := &countingEncoder{}
	c := NewCache(enc, 3)
	ctx := context.Background()
	for _, step := range []struct {
		texts       []string
		wantBatch   []string // what reaches the encoder; nil: nothing
		hits, total int      // cumulative hits and misses after the step
		misses      int
	}{
		{[]string{"a", "bb", "a"}, []string{"a", "bb"}, 0, 0, 3},    // duplicates in a batch encode once
		{[]string{"bb", "a"}, nil, 2, 0, 3},                         // both cached
		{[]string{"ccc", "dddd"}, []string{"ccc", "dddd"}, 2, 0, 5}, // 4 distinct > 3: the least recent ("bb") goes
		{[]string{"a"}, nil, 3, 0, 5},                               // "a" was used after "bb", so it stayed
		{[]string{"bb"}, []string{"bb"}, 3, 0, 6},                   // evicted, encoded again; evicts "ccc"
		{[]string{"dddd", "a", "bb"}, nil, 6, 0, 6},                 //
		{[]string{"ccc"}, []string{"ccc"}, 6, 0, 7},                 //
		{nil, nil, 6, 0, 7},                                         // an empty batch is fine
	} {
		before := len(enc.batches)
		got, err := c.Encode(ctx, step.texts)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(step.texts) {
			t.Fatalf("Encode(%q) gave %d vectors", step.texts, len(got))
		}
		for i, text := range step.texts {
			if want := []float32{float32(len(text)), float32(text[0])}; !slices.Equal(got[i], want) {
				t.Errorf("Encode(%q)[%d] = %v; want %v", step.texts, i, got[i], want)
			}
		}
		var batch []string
		if len(enc.batches) > before {
			if len(enc.batches) > before+1 {
				t.Fatalf("Encode(%q) called the encoder %d times; want one batch", step.texts, len(enc.batches)-before)
			}
			batch = enc.batches[before]
		}
		if !slices.Equal(batch, step.wantBatch) {
			t.Errorf("Encode(%q) sent %q to the encoder; want %q", step.texts, batch, step.wantBatch)
		}
		if h, m := c.Stats(); h != step.hits || m != step.misses {
			t.Errorf("after Encode(%q): Stats = %d hits, %d misses; want %d, %d", step.texts, h, m, step.hits, step.misses)
		}
		if c.Len() > 3 {
			t.Errorf("cache holds %d entries; the bound is 3", c.Len())
		}
	}
}

func TestCacheReturnsCopies(t *testing.T) {
	c := NewCache(&countingEncoder{}, 10)
	first, _ := c.Encode(context.Background(), []string{"xy"})
	first[0][0] = 99
	again, _ := c.Encode(context.Background(), []string{"xy"})
	if again[0][0] != 2 {
		t.Errorf("a caller's edit reached the cache: %v", again[0])
	}
}

func TestCacheErrors(t *testing.T) {
	boom := errors.New("boom")
	c := NewCache(&countingEncoder{fail: boom}, 10)
	if _, err := c.Encode(context.Background(), []string{"a"}); !errors.Is(err, boom) {
		t.Errorf("Encode = %v; want the encoder's error", err)
	}
	if c.Len() != 0 {
		t.Errorf("a failed batch left %d entries", c.Len())
	}
	bad := NewCache(wrongDim{}, 10)
	if _, err := bad.Encode(context.Background(), []string{"a"}); err == nil {
		t.Error("a vector of the wrong length was accepted")
	}
}

type wrongDim struct{}

func (wrongDim) Encode(_ context.Context, texts []string) ([][]float32, error) {
	return [][]float32{{1}}, nil
}
func (wrongDim) Dim() int            { return 2 }
func (wrongDim) Fingerprint() string { return "wrong" }

// TestCacheConcurrent: many goroutines share one cache (run with -race);
// every vector is right and every text was encoded at least once, misses
// plus hits equal the texts asked for.
func TestCacheConcurrent(t *testing.T) {
	enc := &countingEncoder{}
	c := NewCache(enc, 16)
	const goroutines, rounds = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				texts := []string{fmt.Sprintf("t%d", (g+r)%24), fmt.Sprintf("text%d", r%5), "shared"}
				got, err := c.Encode(context.Background(), texts)
				if err != nil {
					errs <- err
					return
				}
				for i, text := range texts {
					if got[i][0] != float32(len(text)) || got[i][1] != float32(text[0]) {
						errs <- fmt.Errorf("Encode(%q)[%d] = %v", text, i, got[i])
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
	hits, misses := c.Stats()
	if hits+misses != goroutines*rounds*3 || hits == 0 {
		t.Errorf("Stats = %d hits + %d misses; want %d texts in all, some hits", hits, misses, goroutines*rounds*3)
	}
	if c.Len() > 16 {
		t.Errorf("cache holds %d entries; the bound is 16", c.Len())
	}
}

func TestCacheKeyIncludesFingerprint(t *testing.T) {
	a := NewCache(&countingEncoder{fp: "a"}, 4)
	b := NewCache(&countingEncoder{fp: "b"}, 4)
	if a.key("x") == b.key("x") {
		t.Error("two fingerprints give the same key")
	}
	if a.Fingerprint() != "counting/a" || a.Dim() != 2 {
		t.Errorf("Cache passes on Fingerprint %q and Dim %d", a.Fingerprint(), a.Dim())
	}
}
