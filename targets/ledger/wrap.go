package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"promptgan/targets/backend"
)

// WrapOptions configure Wrap.
type WrapOptions struct {
	// NoCache (the CLI's --no-cache) sends every request to the model, as
	// given, without looking in the ledger. The generations are still
	// recorded (write-through) so that a later run without NoCache can
	// reuse them; a key the ledger already holds keeps its first generation.
	// To neither read nor write a ledger, do not wrap the model.
	NoCache bool
}

// Wrap returns a backend.Model that answers each request from l when l holds
// its key (a hit) and sends the others (misses) to m in one batched Generate
// call, in their order, recording their generations in l before returning.
// Identical requests within one batch are sent once; the later ones count as
// hits. Fingerprint passes through to m. A nil l returns m itself.
//
// The result is safe for concurrent use if m is. Concurrent calls that miss
// on the same key both reach m; the first generation recorded is the one
// both calls return, so every answer agrees with the ledger.
//
// If m fails, its error is returned unchanged and nothing is recorded. If
// recording fails (a full disk, say), Generate fails: the caller should
// stop rather than go on paying for calls it cannot keep.
func Wrap(m backend.Model, l *Ledger, opts WrapOptions) backend.Model {
	if l == nil {
		return m
	}
	return &cached{model: m, ledger: l, opts: opts}
}

type cached struct {
	model  backend.Model
	ledger *Ledger
	opts   WrapOptions
}

func (c *cached) Fingerprint() string { return c.model.Fingerprint() }

func (c *cached) Generate(ctx context.Context, reqs []backend.Request) ([]backend.Generation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fp := c.model.Fingerprint()
	if fp == "" {
		return nil, errors.New("ledger: the target model has an empty fingerprint, so its calls cannot be told apart from another model's")
	}
	keys := make([][32]byte, len(reqs))
	for i, r := range reqs {
		keys[i] = Key(fp, r)
	}
	out := make([]backend.Generation, len(reqs))
	// slot[i] is the index in send of the call that answers request i, or -1 for a hit.
	slot, send, err := c.ledger.lookup(keys, out, c.opts.NoCache)
	if err != nil {
		return nil, err
	}
	if len(send) == 0 {
		return out, nil
	}
	sendReqs := make([]backend.Request, len(send))
	sendKeys := make([][32]byte, len(send))
	for j, i := range send {
		sendReqs[j], sendKeys[j] = reqs[i], keys[i]
	}
	// each answer is recorded as it arrives (a backend that calls
	// OnAnswer), so that a crash mid-batch loses no call already paid; the
	// batch is recorded again below, which skips what is recorded
	gctx := backend.WithOnAnswer(ctx, func(j int, g backend.Generation) {
		if j >= 0 && j < len(sendKeys) {
			_ = c.ledger.record(sendKeys[j:j+1], []entry{entryOf(g)}, false) // an error recurs, and is returned, below
		}
	})
	gens, err := c.model.Generate(gctx, sendReqs)
	if err != nil {
		return nil, err
	}
	if len(gens) != len(sendReqs) {
		return nil, fmt.Errorf("ledger: target %s answered %d requests with %d generations; nothing recorded", fp, len(sendReqs), len(gens))
	}
	entries := make([]entry, len(gens))
	for j, g := range gens {
		entries[j] = entryOf(g)
	}
	if err := c.ledger.record(sendKeys, entries, !c.opts.NoCache); err != nil {
		return nil, fmt.Errorf("ledger: record %d generations: %w", len(gens), err)
	}
	// the first request of each key sent is the call paid; the others
	// (and, with preferStored, a generation a concurrent call recorded
	// first) are answered by it
	paid := make([]bool, len(send))
	for i, j := range slot {
		if j < 0 {
			continue
		}
		g := backend.Generation{Tokens: slices.Clone(entries[j].tokens), Usage: gens[j].Usage}
		if paid[j] {
			g.Usage.FromLedger = true
		}
		paid[j] = true
		out[i] = g
	}
	return out, nil
}

// lookup fills out[i] for every key held (unless noCache) and returns, for
// each request, the index in send of the call that will answer it (-1 for
// an answered one), and send, the request indices to send to the model.
// Without noCache, repeated keys are sent once.
func (l *Ledger) lookup(keys [][32]byte, out []backend.Generation, noCache bool) (slot, send []int, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil, nil, ErrClosed
	}
	slot = make([]int, len(keys))
	first := make(map[[32]byte]int) // key -> index in send
	for i, k := range keys {
		if !noCache {
			if e, ok := l.index[k]; ok {
				out[i] = e.generation()
				slot[i] = -1
				l.stats.Hits++
				l.stats.Saved.PromptTokens += int(e.usage[0])
				l.stats.Saved.CompletionTokens += int(e.usage[1])
				continue
			}
			if j, ok := first[k]; ok {
				slot[i] = j
				l.stats.Hits++
				continue
			}
			first[k] = len(send)
		}
		slot[i] = len(send)
		send = append(send, i)
		l.stats.Misses++
	}
	return slot, send, nil
}

// record appends the new generations; with preferStored, tokens[j] of a key
// the ledger already holds (recorded meanwhile by a concurrent call) is
// replaced by the recorded generation.
func (l *Ledger) record(keys [][32]byte, entries []entry, preferStored bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.appendLocked(keys, entries); err != nil {
		return err
	}
	if preferStored {
		for j, k := range keys {
			entries[j].tokens = l.index[k].tokens
		}
	}
	return nil
}
