package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// LoadOptions bound a load run against one route: Requests requests at
// most, sent by Concurrency clients, stopping early at Duration.
type LoadOptions struct {
	URL         string                  // the route, e.g. http://127.0.0.1:8080/v1/completions
	Token       string                  // bearer token; "" = none
	Body        func(i int) []byte      // the body of request i
	Concurrency int                     // clients sending at once, each one request at a time
	Requests    int                     // requests in all
	Duration    time.Duration           // no request is started after it
	Timeout     time.Duration           // a request without an answer by then is failed
	Check       func(body []byte) error // optional: a 200 whose body fails it is failed
}

// LoadResult is what a load run measured.
type LoadResult struct {
	Sent       int           `json:"sent"`    // requests started
	OK         int           `json:"ok"`      // answered 200 (and passing Check)
	Failed     int           `json:"failed"`  // answered otherwise, or a transport error or timeout
	Lost       int           `json:"lost"`    // started but neither answered nor failed (must be 0)
	Wall       time.Duration `json:"wall_ns"` // first request to last answer
	PerSecond  float64       `json:"requests_per_s"`
	P50        time.Duration `json:"p50_ns"`
	P99        time.Duration `json:"p99_ns"`
	FirstError string        `json:"first_error,omitempty"`
}

// Load sends the requests and measures throughput and latency (nearest-rank
// percentiles over the successful requests).
func Load(ctx context.Context, opt LoadOptions) (LoadResult, error) {
	if opt.Concurrency < 1 || opt.Requests < 1 || opt.Duration <= 0 || opt.Timeout <= 0 || opt.Body == nil {
		return LoadResult{}, errors.New("load: Concurrency and Requests must be >= 1, Duration and Timeout > 0, and Body set")
	}
	client := &http.Client{Timeout: opt.Timeout, Transport: &http.Transport{MaxIdleConnsPerHost: opt.Concurrency}}
	defer client.CloseIdleConnections()
	next := make(chan int)
	var mu sync.Mutex
	var res LoadResult
	var lat []time.Duration
	recorded := 0
	record := func(d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		recorded++
		if err != nil {
			res.Failed++
			if res.FirstError == "" {
				res.FirstError = err.Error()
			}
			return
		}
		res.OK++
		lat = append(lat, d)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range opt.Concurrency {
		wg.Go(func() {
			for i := range next {
				t0 := time.Now()
				err := send(ctx, client, opt, i)
				record(time.Since(t0), err)
			}
		})
	}
	deadline := time.After(opt.Duration)
feed:
	for i := range opt.Requests {
		select {
		case next <- i:
			res.Sent++
		case <-deadline:
			break feed
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	res.Wall = time.Since(start)
	res.Lost = res.Sent - recorded
	if res.OK > 0 {
		slices.Sort(lat)
		rank := func(q float64) time.Duration { return lat[max(0, int(float64(len(lat))*q+0.999999)-1)] }
		res.P50, res.P99 = rank(0.50), rank(0.99)
		res.PerSecond = float64(res.OK) / res.Wall.Seconds()
	}
	return res, ctx.Err()
}

func send(ctx context.Context, client *http.Client, opt LoadOptions, i int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, opt.URL, bytes.NewReader(opt.Body(i)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if opt.Token != "" {
		req.Header.Set("Authorization", "Bearer "+opt.Token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	if opt.Check != nil {
		return opt.Check(body)
	}
	return nil
}
