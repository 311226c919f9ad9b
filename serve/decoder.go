package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"promptgan/targets/backend"
	"promptgan/targets/onnx"
)

// A targets/onnx Model decodes with one set of settings fixed at Open, so
// the server keeps one Model per (temperature, top_p, max_new_tokens) in a
// bounded pool, each with its own batcher. max_tokens is rounded up to a
// bucket (16, 32, 64, …) and the generation cut back to max_tokens: a
// request's first k tokens do not depend on how many more would follow
// (one uniform number per token from the request's own stream), so the cut
// is the generation max_tokens would give, and few Models are needed.

// decodeKey names one decoding setting.
type decodeKey struct {
	temperature float64
	topP        float64 // 0 = off
	maxNew      int
}

// job is one request waiting for its batch.
type job struct {
	ctx  context.Context
	req  backend.Request
	done chan jobResult // buffered, 1
}

type jobResult struct {
	tokens []int32
	err    error
}

// decoder is one Model and the batcher in front of it.
type decoder struct {
	key   decodeKey
	model *onnx.Model
	jobs  chan *job
	ready chan struct{} // closed once model is open (or err set)
	err   error

	refs     int // jobs queued or running (pool.mu)
	lastUsed time.Time
	quit     chan struct{} // closed by stop
	stopOnce sync.Once
	stopped  chan struct{}
}

// pool holds the decoders.
type pool struct {
	dir    string
	opt    onnx.Options
	max    int           // most decoders open at once
	window time.Duration // how long a batch waits for more requests
	batch  int           // most requests in one decode
	log    *slog.Logger
	onRun  func(n int) // called with each decode's batch size (metrics)

	mu     sync.Mutex
	open   map[decodeKey]*decoder
	closed bool
	runCtx context.Context // batches run under it: a request leaving does not cancel its batch-mates
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var (
	errPoolFull = errors.New("every decoder is busy with other decoding settings")
	errShutdown = errors.New("the server is shutting down")
)

func newPool(dir string, opt onnx.Options, max, batch int, window time.Duration, log *slog.Logger, onRun func(int)) *pool {
	ctx, cancel := context.WithCancel(context.Background())
	return &pool{dir: dir, opt: opt, max: max, batch: batch, window: window, log: log, onRun: onRun,
		open: map[decodeKey]*decoder{}, runCtx: ctx, cancel: cancel}
}

// acquire returns the decoder for key, opening it (and closing the least
// recently used idle one when the pool is full); release must follow.
func (p *pool) acquire(ctx context.Context, key decodeKey) (*decoder, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errShutdown
	}
	d := p.open[key]
	if d == nil {
		if len(p.open) >= p.max {
			var lru *decoder
			for _, o := range p.open {
				if o.refs == 0 && (lru == nil || o.lastUsed.Before(lru.lastUsed)) {
					lru = o
				}
			}
			if lru == nil {
				p.mu.Unlock()
				return nil, errPoolFull
			}
			delete(p.open, lru.key)
			go lru.stop()
		}
		d = &decoder{key: key, jobs: make(chan *job, p.batch), ready: make(chan struct{}), quit: make(chan struct{}), stopped: make(chan struct{})}
		p.open[key] = d
		go p.start(d)
	}
	d.refs++
	d.lastUsed = time.Now()
	p.mu.Unlock()
	select {
	case <-d.ready:
	case <-ctx.Done():
		p.release(d)
		return nil, ctx.Err()
	}
	if d.err != nil {
		p.release(d)
		return nil, d.err
	}
	return d, nil
}

func (p *pool) release(d *decoder) {
	p.mu.Lock()
	d.refs--
	if d.err != nil && d.refs == 0 && p.open[d.key] == d {
		delete(p.open, d.key) // a failed open is tried again by the next request
	}
	p.mu.Unlock()
}

// start opens d's model and runs its batcher until stop.
func (p *pool) start(d *decoder) {
	opt := p.opt
	opt.BatchSize = p.batch
	opt.Decode = onnx.Decode{MaxNewTokens: d.key.maxNew, Temperature: d.key.temperature, TopP: d.key.topP}
	d.model, d.err = onnx.Open(p.dir, opt)
	close(d.ready)
	if d.err != nil {
		close(d.stopped)
		return
	}
	p.log.Debug("decoder opened", "temperature", d.key.temperature, "top_p", d.key.topP, "max_new_tokens", d.key.maxNew)
	p.wg.Add(1)
	defer p.wg.Done()
	defer close(d.stopped)
	defer d.model.Close()
	for {
		var first *job
		select {
		case first = <-d.jobs:
		case <-d.quit:
			for {
				select {
				case j := <-d.jobs:
					j.done <- jobResult{err: errShutdown}
				default:
					return
				}
			}
		}
		batch := []*job{first}
		timer := time.NewTimer(p.window)
	collect:
		for len(batch) < p.batch {
			select {
			case j := <-d.jobs:
				batch = append(batch, j)
			case <-timer.C:
				break collect
			case <-d.quit:
				break collect
			}
		}
		timer.Stop()
		p.run(d, batch)
	}
}

// run decodes one batch (without the jobs whose requests left) and answers
// each job. When the batch fails, each job is decoded alone so that one bad
// request fails only itself.
func (p *pool) run(d *decoder, batch []*job) {
	live := batch[:0]
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			j.done <- jobResult{err: err}
			continue
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return
	}
	reqs := make([]backend.Request, len(live))
	for i, j := range live {
		reqs[i] = j.req
	}
	if p.onRun != nil {
		p.onRun(len(reqs))
	}
	gens, err := d.model.Generate(p.runCtx, reqs)
	if err == nil {
		for i, j := range live {
			j.done <- jobResult{tokens: gens[i].Tokens}
		}
		return
	}
	if len(live) == 1 || p.runCtx.Err() != nil {
		for _, j := range live {
			j.done <- jobResult{err: err}
		}
		return
	}
	for _, j := range live {
		g, err := d.model.Generate(p.runCtx, []backend.Request{j.req})
		if err != nil {
			j.done <- jobResult{err: err}
			continue
		}
		j.done <- jobResult{tokens: g[0].Tokens}
	}
}

// generate queues req on d and waits for its tokens.
func (d *decoder) generate(ctx context.Context, req backend.Request) ([]int32, error) {
	j := &job{ctx: ctx, req: req, done: make(chan jobResult, 1)}
	select {
	case d.jobs <- j:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-d.quit:
		return nil, errShutdown
	}
	select {
	case r := <-j.done:
		return r.tokens, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// stop ends d's batcher after its current batch; jobs still queued are
// answered errShutdown (the pool evicts only decoders no request holds).
func (d *decoder) stop() {
	d.stopOnce.Do(func() { close(d.quit) })
	<-d.ready
	<-d.stopped
}

// close stops every decoder; in-flight batches finish first.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	ds := make([]*decoder, 0, len(p.open))
	for _, d := range p.open {
		ds = append(ds, d)
	}
	p.open = map[decodeKey]*decoder{}
	p.mu.Unlock()
	for _, d := range ds {
		d.stop()
	}
	p.cancel()
	p.wg.Wait()
}

// bucket rounds max_tokens up to a power of two ≥ 16, within the model's
// positions for a context of n tokens; it returns maxTokens itself when the
// bucket would not fit.
func bucket(maxTokens, n, maxPositions int) int {
	b := 16
	for b < maxTokens {
		b *= 2
	}
	if maxPositions > 0 && n+b-1 > maxPositions {
		return maxTokens
	}
	return b
}

func (k decodeKey) String() string {
	return fmt.Sprintf("temperature=%g top_p=%g max_new_tokens=%d", k.temperature, k.topP, k.maxNew)
}
