package parallel

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
)

func TestFor(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 100} {
		for _, workers := range []int{0, 1, 3, 8, 200} {
			hits := make([]int32, n)
			var calls atomic.Int32
			For(n, workers, func(lo, hi int) {
				calls.Add(1)
				for i := lo; i < hi; i++ {
					atomic.AddInt32(&hits[i], 1)
				}
			})
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("n=%d workers=%d: index %d done %d times", n, workers, i, h)
				}
			}
			w := workers
			if w == 0 {
				w = runtime.GOMAXPROCS(0)
			}
			if c := int(calls.Load()); c > max(w, 1) {
				t.Errorf("n=%d workers=%d: %d ranges", n, workers, c)
			}
		}
	}
}

func TestForErrFirstByIndex(t *testing.T) {
	for _, workers := range []int{1, 2, 4, 10} {
		err := ForErr(10, workers, func(lo, hi int) error {
			for i := lo; i < hi; i++ {
				if i >= 3 {
					return fmt.Errorf("at %d", lo)
				}
			}
			return nil
		})
		want := map[int]string{1: "at 0", 2: "at 0", 4: "at 3", 10: "at 3"}[workers]
		if err == nil || err.Error() != want {
			t.Errorf("workers=%d: %v, want %s", workers, err, want)
		}
	}
	if err := ForErr(5, 2, func(lo, hi int) error { return nil }); err != nil {
		t.Error(err)
	}
	if err := ForErr(0, 2, func(lo, hi int) error { return errors.New("x") }); err == nil {
		t.Error("the error of the empty range was lost")
	}
}

func TestEach(t *testing.T) {
	for _, n := range []int{0, 1, 5} {
		hits := make([]int32, n)
		Each(n, func(i int) { atomic.AddInt32(&hits[i], 1) })
		for i, h := range hits {
			if h != 1 {
				t.Fatalf("n=%d: index %d done %d times", n, i, h)
			}
		}
	}
}
