// Benchmark: one teacher-forced MLE training step of a SeqGAN-shaped LSTM LM
// in gorgonia (graph built once, unrolled over T steps, tape machine + solver).
//
//	go run . -steps 30 -warmup 2            # timing + loss check (float32)
//	go run . -dtype float64 -gradcheck      # finite-difference check of the same graph
//go:debug randseednop=0

package main

import (
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"syscall"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

var (
	V = flag.Int("V", 5000, "vocabulary")
	E = flag.Int("E", 32, "embedding dim")
	H = flag.Int("H", 32, "hidden dim")
	B = flag.Int("B", 64, "batch")
	T = flag.Int("T", 20, "sequence length")

	steps       = flag.Int("steps", 30, "timed steps (after warm-up)")
	warmup      = flag.Int("warmup", 2, "warm-up steps (not timed)")
	dtypeFlag   = flag.String("dtype", "float32", "float32 or float64")
	solverF     = flag.String("solver", "adam", "adam or sgd")
	lr          = flag.Float64("lr", 0.01, "learning rate")
	gradcheck   = flag.Bool("gradcheck", false, "finite-difference gradient check instead of training")
	seed        = flag.Int64("seed", 1, "rng seed")
	cpuprof     = flag.String("cpuprofile", "", "write CPU profile of the timed steps to file")
	naiveConcat = flag.Bool("naiveconcat", false, "use Concat(0, (B,H) x T) directly (hits gorgonia slice-hash bug: wrong grads when T*B>256)")
)

func must(n *G.Node, err error) *G.Node {
	if err != nil {
		panic(err)
	}
	return n
}

type model struct {
	g                          *G.ExprGraph
	dt                         tensor.Dtype
	idx                        []*G.Node // T input index vectors (B,)
	mask                       *G.Node   // (T*B, V) one-hot target mask
	loss                       *G.Node
	learnables                 G.Nodes
	emb, wx, wh, b, wout, bout *G.Node
}

func scalar(dt tensor.Dtype, v float64) interface{} {
	if dt == tensor.Float32 {
		return float32(v)
	}
	return v
}

func build(dt tensor.Dtype) *model {
	v, e, h, bsz, tt := *V, *E, *H, *B, *T
	g := G.NewGraph()
	m := &model{g: g, dt: dt}
	m.emb = G.NewMatrix(g, dt, G.WithShape(v, e), G.WithName("Emb"), G.WithInit(G.GlorotN(1)))
	m.wx = G.NewMatrix(g, dt, G.WithShape(e, 4*h), G.WithName("Wx"), G.WithInit(G.GlorotN(1)))
	m.wh = G.NewMatrix(g, dt, G.WithShape(h, 4*h), G.WithName("Wh"), G.WithInit(G.GlorotN(1)))
	m.b = G.NewVector(g, dt, G.WithShape(4*h), G.WithName("b"), G.WithInit(G.Zeroes()))
	m.wout = G.NewMatrix(g, dt, G.WithShape(h, v), G.WithName("Wout"), G.WithInit(G.GlorotN(1)))
	m.bout = G.NewVector(g, dt, G.WithShape(v), G.WithName("bout"), G.WithInit(G.Zeroes()))
	m.learnables = G.Nodes{m.emb, m.wx, m.wh, m.b, m.wout, m.bout}

	// h0 = c0 = 0: the t=0 step simply omits the h·Wh and f⊙c terms.
	var hPrev, cPrev *G.Node
	hs := make(G.Nodes, tt)
	for t := 0; t < tt; t++ {
		m.idx = append(m.idx, G.NewVector(g, tensor.Int, G.WithShape(bsz), G.WithName(fmt.Sprintf("idx%d", t))))
		x := must(G.ByIndices(m.emb, m.idx[t], 0)) // (B,E)
		pre := must(G.Mul(x, m.wx))                // (B,4H)
		if hPrev != nil {
			pre = must(G.Add(pre, must(G.Mul(hPrev, m.wh))))
		}
		pre = must(G.BroadcastAdd(pre, m.b, nil, []byte{0}))
		ig := must(G.Sigmoid(must(G.Slice(pre, nil, G.S(0, h)))))
		fg := must(G.Sigmoid(must(G.Slice(pre, nil, G.S(h, 2*h)))))
		og := must(G.Sigmoid(must(G.Slice(pre, nil, G.S(2*h, 3*h)))))
		gg := must(G.Tanh(must(G.Slice(pre, nil, G.S(3*h, 4*h)))))
		c := must(G.HadamardProd(ig, gg))
		if cPrev != nil {
			c = must(G.Add(must(G.HadamardProd(fg, cPrev)), c))
		}
		hNew := must(G.HadamardProd(og, must(G.Tanh(c))))
		hs[t] = hNew
		hPrev, cPrev = hNew, c
	}
	n := tt * bsz
	// hcat: (T*B, H), row = t*B+b.
	// gorgonia v0.9.18 bug: sliceOp.WriteHash writes byte(start)/byte(end), so slice nodes whose
	// bounds differ by a multiple of 256 hash-collide and are merged in the graph. Concat's
	// SymDiff slices the output gradient at offsets t*B (up to 1280 here), so a plain
	// Concat(0, (B,H)...) silently gives WRONG gradients once T*B > 256 (verified with -gradcheck).
	// Workaround (default): reshape each h_t to (1,B,H), concat along axis 0 (gradient slice
	// bounds are t..t+1 < 256), then reshape to (T*B, H).
	var hcat *G.Node
	if *naiveConcat {
		hcat = must(G.Concat(0, hs...))
	} else {
		hs3 := make(G.Nodes, tt)
		for t := range hs {
			hs3[t] = must(G.Reshape(hs[t], tensor.Shape{1, bsz, h}))
		}
		hcat = must(G.Reshape(must(G.Concat(0, hs3...)), tensor.Shape{n, h}))
	}
	logits := must(G.BroadcastAdd(must(G.Mul(hcat, m.wout)), m.bout, nil, []byte{0})) // (T*B, V)
	mx := must(G.Max(logits, 1))                                                      // (T*B,) per-row max
	sh := must(G.BroadcastSub(logits, mx, nil, []byte{1}))                            // logits - rowmax
	lse := must(G.Log(must(G.Sum(must(G.Exp(sh)), 1))))                               // (T*B,)
	m.mask = G.NewMatrix(g, dt, G.WithShape(n, v), G.WithName("mask"))
	picked := must(G.Sum(must(G.HadamardProd(m.mask, sh)))) // sum of target shifted logits
	nll := must(G.Sub(must(G.Sum(lse)), picked))            // sum over positions of -log p(target)
	m.loss = must(G.HadamardDiv(nll, G.NewConstant(scalar(dt, float64(n)), G.WithName("N"))))

	if _, err := G.Grad(m.loss, m.learnables...); err != nil {
		panic(err)
	}
	return m
}

// batch holds host-side input tensors; they are re-filled and re-Let each step.
type batch struct {
	idx  []*tensor.Dense
	mask *tensor.Dense
	set  []int // flat mask positions set to 1 last time (to clear cheaply)
}

func newBatch(dt tensor.Dtype) *batch {
	b := &batch{}
	for t := 0; t < *T; t++ {
		b.idx = append(b.idx, tensor.New(tensor.WithShape(*B), tensor.WithBacking(make([]int, *B))))
	}
	b.mask = tensor.New(tensor.Of(dt), tensor.WithShape(*T**B, *V))
	return b
}

// fill: random sequences with a learnable structure so the loss can fall:
// start token uniform in [0,100), next = (cur+1) mod V; input = seq[t], target = seq[t+1].
func (b *batch) fill(rng *rand.Rand) {
	setv := func(i int, val float64) {
		switch d := b.mask.Data().(type) {
		case []float32:
			d[i] = float32(val)
		case []float64:
			d[i] = val
		}
	}
	for _, i := range b.set {
		setv(i, 0)
	}
	b.set = b.set[:0]
	for j := 0; j < *B; j++ {
		cur := rng.Intn(100)
		for t := 0; t < *T; t++ {
			b.idx[t].Data().([]int)[j] = cur
			nxt := (cur + 1) % *V
			pos := (t**B+j)**V + nxt
			setv(pos, 1)
			b.set = append(b.set, pos)
			cur = nxt
		}
	}
}

func (m *model) let(b *batch) {
	for t := range m.idx {
		if err := G.Let(m.idx[t], b.idx[t]); err != nil {
			panic(err)
		}
	}
	if err := G.Let(m.mask, b.mask); err != nil {
		panic(err)
	}
}

func lossOf(n *G.Node) float64 {
	switch x := n.Value().Data().(type) {
	case float32:
		return float64(x)
	case float64:
		return x
	}
	panic(fmt.Sprintf("unexpected loss type %T", n.Value().Data()))
}

func main() {
	flag.Parse()
	rand.Seed(*seed) // gorgonia's initialisers use the global rng
	dt := tensor.Float32
	if *dtypeFlag == "float64" {
		dt = tensor.Float64
	}
	fmt.Printf("go %s GOMAXPROCS=%d NumCPU=%d dtype=%v V=%d E=%d H=%d B=%d T=%d solver=%s lr=%g\n",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), dt, *V, *E, *H, *B, *T, *solverF, *lr)

	t0 := time.Now()
	m := build(dt)
	vm := G.NewTapeMachine(m.g, G.BindDualValues(m.learnables...))
	defer vm.Close()
	fmt.Printf("graph build + compile: %v, nodes=%d\n", time.Since(t0), len(m.g.AllNodes()))

	rng := rand.New(rand.NewSource(*seed + 7))
	b := newBatch(dt)

	if *gradcheck {
		runGradCheck(m, vm, b, rng)
		return
	}

	var solver G.Solver
	switch *solverF {
	case "adam":
		solver = G.NewAdamSolver(G.WithLearnRate(*lr))
	case "sgd":
		solver = G.NewVanillaSolver(G.WithLearnRate(*lr))
	default:
		panic("unknown solver")
	}
	vg := G.NodesToValueGrads(m.learnables)

	total := *warmup + *steps
	profiling := false
	var times []float64
	var cpuStart float64
	var losses []float64
	for s := 1; s <= total; s++ {
		if s == *warmup+1 {
			cpuStart = cpuSeconds()
		}
		if s == *warmup+1 && *cpuprof != "" {
			f, err := os.Create(*cpuprof)
			if err != nil {
				panic(err)
			}
			pprof.StartCPUProfile(f)
			profiling = true
		}
		b.fill(rng) // data generation is NOT timed
		st := time.Now()
		m.let(b)
		if err := vm.RunAll(); err != nil {
			panic(err)
		}
		if err := solver.Step(vg); err != nil {
			panic(err)
		}
		l := lossOf(m.loss) // pre-update loss of this step's batch
		vm.Reset()
		el := time.Since(st)
		losses = append(losses, l)
		if s > *warmup {
			times = append(times, float64(el.Microseconds())/1000)
		}
		fmt.Printf("step %3d loss %.5f  %.2f ms%s\n", s, l, float64(el.Microseconds())/1000,
			map[bool]string{true: " (warm-up)", false: ""}[s <= *warmup])
	}
	cpuUsed := cpuSeconds() - cpuStart // includes (untimed) data generation; it is tiny
	if profiling {
		pprof.StopCPUProfile()
	}
	mean, sd := 0.0, 0.0
	for _, x := range times {
		mean += x
	}
	mean /= float64(len(times))
	for _, x := range times {
		sd += (x - mean) * (x - mean)
	}
	sd = math.Sqrt(sd / float64(len(times)-1))
	sorted := append([]float64(nil), times...)
	sort.Float64s(sorted)
	fmt.Printf("\nloss step 1 = %.5f (ln V = %.5f), loss step %d = %.5f\n", losses[0], math.Log(float64(*V)), total, losses[total-1])
	fmt.Printf("timed steps=%d  mean=%.2f ms  sd=%.2f  median=%.2f  min=%.2f  max=%.2f\n",
		len(times), mean, sd, sorted[len(sorted)/2], sorted[0], sorted[len(sorted)-1])
	fmt.Printf("process CPU (user+sys) per timed step = %.2f ms  (CPU/wall = %.2f)\n",
		1000*cpuUsed/float64(len(times)), 1000*cpuUsed/(mean*float64(len(times))))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("GC cycles=%d  total alloc=%.1f MiB\n", ms.NumGC, float64(ms.TotalAlloc)/(1<<20))
}

// runGradCheck compares analytic gradients with central differences for a few entries of each
// learnable (no solver step, same batch throughout). Meaningful with -dtype float64.
func runGradCheck(m *model, vm G.VM, b *batch, rng *rand.Rand) {
	b.fill(rng)
	run := func() float64 {
		m.let(b)
		if err := vm.RunAll(); err != nil {
			panic(err)
		}
		l := lossOf(m.loss)
		vm.Reset()
		return l
	}
	l0 := run()
	fmt.Printf("loss = %.8f\n", l0)
	// snapshot analytic grads
	grads := map[*G.Node][]float64{}
	for _, n := range m.learnables {
		gv, err := n.Grad()
		if err != nil {
			panic(err)
		}
		grads[n] = toF64(gv.Data())
	}
	eps := 1e-5
	if m.dt == tensor.Float32 {
		eps = 1e-2
	}
	worst := 0.0
	for _, n := range m.learnables {
		data := n.Value().Data()
		size := n.Value().Shape().TotalSize()
		// pick entries: a few random ones, plus for Emb/Wout/bout ones that are touched by the batch
		var cand []int
		for k := 0; k < 4; k++ {
			cand = append(cand, rng.Intn(size))
		}
		switch n {
		case m.emb:
			tok := b.idx[*T/2].Data().([]int)[0]
			cand = append(cand, tok**E, tok**E+*E-1)
		case m.wout:
			tok := (b.idx[*T-1].Data().([]int)[0] + 1) % *V
			cand = append(cand, tok, (*H-1)**V+tok)
		case m.bout:
			cand = append(cand, (b.idx[0].Data().([]int)[0]+1)%*V)
		}
		for _, i := range cand {
			orig := get(data, i)
			set(data, i, orig+eps)
			lp := run()
			set(data, i, orig-eps)
			lm := run()
			set(data, i, orig)
			num := (lp - lm) / (2 * eps)
			ana := grads[n][i]
			rel := math.Abs(num-ana) / math.Max(1e-8, math.Abs(num)+math.Abs(ana))
			if rel > worst && math.Abs(num)+math.Abs(ana) > 1e-7 {
				worst = rel
			}
			fmt.Printf("%-5s[%6d] analytic % .6e numeric % .6e rel %.2e\n", n.Name(), i, ana, num, rel)
		}
	}
	fmt.Printf("worst relative error (ignoring |g|<1e-7): %.3e\n", worst)
	_ = os.Stdout
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func toF64(d interface{}) []float64 {
	switch x := d.(type) {
	case []float32:
		out := make([]float64, len(x))
		for i, v := range x {
			out[i] = float64(v)
		}
		return out
	case []float64:
		return append([]float64(nil), x...)
	}
	panic(fmt.Sprintf("toF64: %T", d))
}
func get(d interface{}, i int) float64 {
	switch x := d.(type) {
	case []float32:
		return float64(x[i])
	case []float64:
		return x[i]
	}
	panic("get")
}
func set(d interface{}, i int, v float64) {
	switch x := d.(type) {
	case []float32:
		x[i] = float32(v)
	case []float64:
		x[i] = v
	}
}
