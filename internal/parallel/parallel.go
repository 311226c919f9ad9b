// Package parallel is promptgan's one worker pool: it splits independent
// work over goroutines and waits for it. The numerics (internal/nn) and the
// text encoders (embeddings/glove, embeddings/hashing) use it, so that how
// work is split and how a failure is reported is decided once.
package parallel

import (
	"runtime"
	"sync"
)

// For calls fn on disjoint ranges [lo, hi) covering [0, n): at most workers
// ranges (0 means GOMAXPROCS) of ⌈n/workers⌉ indices each, the last
// shorter, each on its own goroutine, and waits for all. With one range fn
// runs on the caller's goroutine. fn must write only to per-index outputs so
// that the result does not depend on the split.
func For(n, workers int, fn func(lo, hi int)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, n)
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Go(func() { fn(lo, hi) })
	}
	wg.Wait()
}

// ForErr is [For] for work that can fail: every range runs to its end (fn
// should stop early by itself, on a cancelled context for instance), and
// the error returned is the one of the failed range with the lowest lo, so
// that the same input reports the same error however it was split.
func ForErr(n, workers int, fn func(lo, hi int) error) error {
	var (
		mu      sync.Mutex
		first   error
		firstLo int
	)
	For(n, workers, func(lo, hi int) {
		if err := fn(lo, hi); err != nil {
			mu.Lock()
			if first == nil || lo < firstLo {
				first, firstLo = err, lo
			}
			mu.Unlock()
		}
	})
	return first
}

// Each calls fn(i) for every i in [0, n), each on its own goroutine (or in
// turn when GOMAXPROCS is 1), and waits for all. It is for a few large,
// independent pieces of work, such as the members of an ensemble: with
// three members on two cores, For's contiguous split gives one core two
// members and the other one, and the second core idles for a third of the
// time; one goroutine each lets the scheduler share both cores.
func Each(n int, fn func(i int)) {
	if n <= 1 || runtime.GOMAXPROCS(0) <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { fn(i) })
	}
	wg.Wait()
}
