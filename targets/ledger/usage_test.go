package ledger

import (
	"context"
	"errors"
	"testing"

	"promptgan/targets/backend"
)

// usageModel answers like countingModel with usage (PromptTokens = the
// prompt's length, CompletionTokens = 10), reporting each answer through
// backend.OnAnswer before it fails with failAfter's error, when set.
type usageModel struct {
	fp        string
	failAfter error
}

func (m *usageModel) Fingerprint() string { return m.fp }

func (m *usageModel) Generate(ctx context.Context, reqs []backend.Request) ([]backend.Generation, error) {
	out := make([]backend.Generation, len(reqs))
	for i, r := range reqs {
		out[i] = answer(r)
		out[i].Usage = backend.Usage{PromptTokens: len(r.Prompt), CompletionTokens: 10}
		if f := backend.OnAnswer(ctx); f != nil {
			f(i, out[i])
		}
	}
	if m.failAfter != nil {
		return nil, m.failAfter
	}
	return out, nil
}

// TestUsage: a paid call reports the server's usage, a hit the recorded
// usage flagged FromLedger; Stats sums both; a reopen keeps Paid.
func TestUsage(t *testing.T) {
	dir := t.TempDir()
	l, _ := mustOpen(t, dir, Options{})
	w := Wrap(&usageModel{fp: testFP}, l, WrapOptions{})
	gens, err := w.Generate(context.Background(), batch(1, 2, 2))
	if err != nil {
		t.Fatal(err)
	}
	want := []backend.Usage{{PromptTokens: len(req(1).Prompt), CompletionTokens: 10}, {PromptTokens: len(req(2).Prompt), CompletionTokens: 10},
		{PromptTokens: len(req(2).Prompt), CompletionTokens: 10, FromLedger: true}} // the repeat within the batch is not paid again
	for i, g := range gens {
		if g.Usage != want[i] {
			t.Errorf("generation %d: usage %+v, want %+v", i, g.Usage, want[i])
		}
	}
	gens, err = w.Generate(context.Background(), batch(1))
	if err != nil {
		t.Fatal(err)
	}
	if u := gens[0].Usage; !u.FromLedger || u.CompletionTokens != 10 {
		t.Errorf("hit: usage %+v, want the recorded usage from the ledger", u)
	}
	paid := backend.Usage{PromptTokens: len(req(1).Prompt) + len(req(2).Prompt), CompletionTokens: 20}
	if st := l.Stats(); st.Paid != paid || st.Saved != (backend.Usage{PromptTokens: len(req(1).Prompt), CompletionTokens: 10}) {
		t.Errorf("Stats: paid %+v, saved %+v; want paid %+v and one hit saved", st.Paid, st.Saved, paid)
	}
	l.Close()
	l2, _ := mustOpen(t, dir, Options{})
	defer l2.Close()
	if st := l2.Stats(); st.Paid != paid || st.Saved != (backend.Usage{}) {
		t.Errorf("reopened: paid %+v, saved %+v", st.Paid, st.Saved)
	}
}

// TestOnAnswerRecords: answers a backend reports as they arrive are in the
// ledger even when the batch as a whole then fails (a crash mid-batch, a
// later call that gives up): they are not paid for again.
func TestOnAnswerRecords(t *testing.T) {
	l, _ := mustOpen(t, t.TempDir(), Options{})
	defer l.Close()
	boom := errors.New("request 3: gave up")
	w := Wrap(&usageModel{fp: testFP, failAfter: boom}, l, WrapOptions{})
	if _, err := w.Generate(context.Background(), batch(0, 1, 2)); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if l.Len() != 3 {
		t.Fatalf("ledger holds %d records after a failed batch whose 3 answers arrived, want 3", l.Len())
	}
	for i := range 3 {
		if g, ok := l.Get(Key(testFP, req(i))); !ok || g.Usage.CompletionTokens != 10 {
			t.Errorf("record %d: %+v, %v", i, g, ok)
		}
	}
}
