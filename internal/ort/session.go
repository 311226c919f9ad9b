package ort

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

// Device selects the execution provider of a session.
type Device string

// The devices a session can be asked for.
const (
	CPU  Device = "cpu"  // the CPU execution provider
	CUDA Device = "cuda" // the CUDA execution provider; an error when the library cannot use it
	Auto Device = "auto" // CUDA when it works, else CPU (said once per process)
)

// ParseDevice reads a --device value.
func ParseDevice(s string) (Device, error) {
	switch d := Device(strings.ToLower(strings.TrimSpace(s))); d {
	case CPU, CUDA, Auto:
		return d, nil
	}
	return "", fmt.Errorf("device %q: want cpu, cuda or auto", s)
}

// Options configure a session.
type Options struct {
	Device     Device // "" means CPU
	Threads    int    // intra-op threads; 0 = ONNX Runtime's default (one per core)
	CUDADevice int    // GPU ordinal for the CUDA provider
	// Spin keeps the intra-op threads spinning for work after a run, ONNX
	// Runtime's own default: a little less latency between back-to-back
	// runs, but the spinning threads take the cores from whatever the process
	// does between target calls (promptgan trains G and D there), so it is
	// off unless asked for.
	Spin bool
}

// ElemType is a tensor element type as ONNX names it in lower case
// ("float32", "int64", …).
type ElemType string

// The element types sessions exchange with Go.
const (
	Float32 ElemType = "float32"
	Int64   ElemType = "int64"
)

// IOInfo is a declared model input or output.
type IOInfo struct {
	Name  string
	Type  ElemType // element type; "" for a non-tensor value
	Shape []int64  // declared dimensions; -1 marks a dynamic one
}

func (io IOInfo) String() string {
	dims := make([]string, len(io.Shape))
	for i, d := range io.Shape {
		if d < 0 {
			dims[i] = "?"
		} else {
			dims[i] = fmt.Sprint(d)
		}
	}
	return fmt.Sprintf("%s %s[%s]", io.Name, io.Type, strings.Join(dims, ","))
}

// Tensor is a dense row-major tensor exchanged with a session: exactly one
// of Float32 and Int64 holds the data.
type Tensor struct {
	Shape   []int64
	Float32 []float32
	Int64   []int64
}

// F32 returns a float32 tensor.
func F32(data []float32, shape ...int64) Tensor { return Tensor{Shape: shape, Float32: data} }

// I64 returns an int64 tensor.
func I64(data []int64, shape ...int64) Tensor { return Tensor{Shape: shape, Int64: data} }

// Type returns the tensor's element type ("" if it holds no data slice).
func (t Tensor) Type() ElemType {
	switch {
	case t.Float32 != nil && t.Int64 == nil:
		return Float32
	case t.Int64 != nil && t.Float32 == nil:
		return Int64
	}
	return ""
}

func (t Tensor) len() int {
	if t.Float32 != nil {
		return len(t.Float32)
	}
	return len(t.Int64)
}

// Session is a loaded model. Run may be called from several goroutines at
// once (ONNX Runtime sessions are thread-safe for Run); Close must not race
// with Run.
type Session struct {
	Model   string // the model file, or "(bytes)"
	Device  Device // the provider the session runs on: CPU or CUDA
	inputs  []IOInfo
	outputs []IOInfo
	s       *onnxruntime.DynamicAdvancedSession
}

// Inputs returns the model's declared inputs, in model order.
func (s *Session) Inputs() []IOInfo { return slices.Clone(s.inputs) }

// Outputs returns the model's declared outputs, in model order.
func (s *Session) Outputs() []IOInfo { return slices.Clone(s.outputs) }

// Input returns the declared input called name.
func (s *Session) Input(name string) (IOInfo, bool) { return find(s.inputs, name) }

// Output returns the declared output called name.
func (s *Session) Output(name string) (IOInfo, bool) { return find(s.outputs, name) }

func find(ios []IOInfo, name string) (IOInfo, bool) {
	for _, io := range ios {
		if io.Name == name {
			return io, true
		}
	}
	return IOInfo{}, false
}

// NewSession opens the ONNX model file path.
func (rt *Runtime) NewSession(path string, opt Options) (*Session, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open ONNX model: %w", err)
	}
	return rt.newSession(path, nil, opt)
}

// NewSessionFromBytes opens a serialised ONNX model held in memory.
func (rt *Runtime) NewSessionFromBytes(model []byte, opt Options) (*Session, error) {
	if len(model) == 0 {
		return nil, errors.New("open ONNX model: no bytes")
	}
	return rt.newSession("", model, opt)
}

func (rt *Runtime) newSession(path string, data []byte, opt Options) (*Session, error) {
	name := path
	if name == "" {
		name = "(bytes)"
	}
	dev := opt.Device
	if dev == "" {
		dev = CPU
	}
	if _, err := ParseDevice(string(dev)); err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	// The declared inputs and outputs come from a throw-away CPU session
	// without graph optimisation (onnxruntime_go reads them only from a
	// session it creates itself); it is closed before the real one opens.
	var ins, outs []onnxruntime.InputOutputInfo
	err := withOptions(Options{Threads: 1}, func(so *onnxruntime.SessionOptions) error {
		if err := so.SetGraphOptimizationLevel(onnxruntime.GraphOptimizationLevelDisableAll); err != nil {
			return err
		}
		var err error
		if data != nil {
			// No WithOptions variant for bytes; the default options are fine here.
			ins, outs, err = onnxruntime.GetInputOutputInfoWithONNXData(data)
		} else {
			ins, outs, err = onnxruntime.GetInputOutputInfoWithOptions(path, so)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: read its inputs and outputs: %w", name, err)
	}
	s := &Session{Model: name, inputs: convertInfo(ins), outputs: convertInfo(outs)}
	inNames, outNames := names(s.inputs), names(s.outputs)

	open := func(d Device) error {
		return withOptions(Options{Device: d, Threads: opt.Threads, CUDADevice: opt.CUDADevice, Spin: opt.Spin}, func(so *onnxruntime.SessionOptions) error {
			var err error
			if data != nil {
				s.s, err = onnxruntime.NewDynamicAdvancedSessionWithONNXData(data, inNames, outNames, so)
			} else {
				s.s, err = onnxruntime.NewDynamicAdvancedSession(path, inNames, outNames, so)
			}
			return err
		})
	}
	switch dev {
	case CPU:
		if err := open(CPU); err != nil {
			return nil, fmt.Errorf("open %s on CPU: %w", name, err)
		}
		s.Device = CPU
	case CUDA:
		if err := open(CUDA); err != nil {
			return nil, fmt.Errorf("open %s: %w", name, rt.cudaError(err))
		}
		s.Device = CUDA
	case Auto:
		if err := open(CUDA); err != nil {
			autoOnce.Do(func() {
				slog.Warn("ONNX Runtime: --device auto runs on CPU: CUDA is not usable", "reason", rt.cudaReason(err))
			})
			if err := open(CPU); err != nil {
				return nil, fmt.Errorf("open %s on CPU (after CUDA failed): %w", name, err)
			}
			s.Device = CPU
		} else {
			s.Device = CUDA
		}
	}
	return s, nil
}

// autoOnce makes the "auto fell back to CPU" warning appear once per process.
var autoOnce sync.Once

// errCUDA marks a failure to use the CUDA execution provider.
var errCUDA = errors.New("CUDA execution provider unavailable")

// cudaProviderFiles are the libraries the CUDA execution provider needs
// beside libonnxruntime (ONNX Runtime loads them from its own directory).
var cudaProviderFiles = []string{"libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"}

// missingCUDAFiles lists the CUDA provider libraries absent from the
// library's directory.
func (rt *Runtime) missingCUDAFiles() []string {
	var missing []string
	for _, f := range cudaProviderFiles {
		if _, err := os.Stat(filepath.Join(filepath.Dir(rt.Path), f)); err != nil {
			missing = append(missing, f)
		}
	}
	return missing
}

// cudaReason says in one sentence why a CUDA session failed with err.
func (rt *Runtime) cudaReason(err error) string {
	if missing := rt.missingCUDAFiles(); len(missing) > 0 {
		return fmt.Sprintf("the ONNX Runtime library %s (version %s) has no CUDA provider: %s not in %s (the CPU build from npm onnxruntime-node ships none)",
			rt.Path, rt.Version, strings.Join(missing, " and "), filepath.Dir(rt.Path))
	}
	if ps, perr := rt.Providers(); perr == nil && !slices.Contains(ps, "CUDAExecutionProvider") {
		return fmt.Sprintf("the ONNX Runtime library %s (version %s, providers %s) was built without CUDA",
			rt.Path, rt.Version, strings.Join(ps, ", "))
	}
	return fmt.Sprintf("ONNX Runtime %s (%s) could not start CUDA: %v", rt.Version, rt.Path, err)
}

// cudaError explains a failed CUDA session in terms a user can act on.
func (rt *Runtime) cudaError(err error) error {
	return fmt.Errorf("%w: %s; point --ort-lib or $%s at the GPU build of ONNX Runtime 1.24.x (libonnxruntime.so with %s beside it, CUDA 12 and cuDNN 9 installed), or use --device cpu or auto",
		errCUDA, rt.cudaReason(err), EnvLibrary, strings.Join(cudaProviderFiles, " and "))
}

// withOptions builds session options for opt, hands them to fn and frees them.
func withOptions(opt Options, fn func(*onnxruntime.SessionOptions) error) error {
	so, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return fmt.Errorf("session options: %w", err)
	}
	defer so.Destroy()
	if opt.Threads > 0 {
		if err := so.SetIntraOpNumThreads(opt.Threads); err != nil {
			return fmt.Errorf("session options: %d threads: %w", opt.Threads, err)
		}
	}
	if !opt.Spin {
		if err := so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
			return fmt.Errorf("session options: turn off thread spinning: %w", err)
		}
	}
	if opt.Device == CUDA {
		cu, err := onnxruntime.NewCUDAProviderOptions() // nil options would crash AppendExecutionProviderCUDA
		if err != nil {
			return fmt.Errorf("CUDA provider options: %w", err)
		}
		defer cu.Destroy()
		if err := cu.Update(map[string]string{"device_id": fmt.Sprint(opt.CUDADevice)}); err != nil {
			return fmt.Errorf("CUDA provider options: device_id %d: %w", opt.CUDADevice, err)
		}
		if err := so.AppendExecutionProviderCUDA(cu); err != nil {
			return fmt.Errorf("append the CUDA execution provider: %w", err)
		}
	}
	return fn(so)
}

func convertInfo(in []onnxruntime.InputOutputInfo) []IOInfo {
	out := make([]IOInfo, len(in))
	for i, io := range in {
		out[i] = IOInfo{Name: io.Name, Shape: slices.Clone([]int64(io.Dimensions))}
		if io.OrtValueType == onnxruntime.ONNXTypeTensor {
			out[i].Type = elemType(io.DataType)
		}
	}
	return out
}

func elemType(t onnxruntime.TensorElementDataType) ElemType {
	switch t {
	case onnxruntime.TensorElementDataTypeFloat:
		return Float32
	case onnxruntime.TensorElementDataTypeInt64:
		return Int64
	}
	// onnxruntime_go prints e.g. "ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16".
	return ElemType(strings.ToLower(strings.TrimPrefix(t.String(), "ONNX_TENSOR_ELEMENT_DATA_TYPE_")))
}

func names(ios []IOInfo) []string {
	n := make([]string, len(ios))
	for i, io := range ios {
		n[i] = io.Name
	}
	return n
}

// Close frees the session.
func (s *Session) Close() error {
	if s.s == nil {
		return nil
	}
	err := s.s.Destroy()
	s.s = nil
	return err
}

// Run runs the model on inputs, keyed by input name; every declared input
// must be given, with its declared element type and rank and any fixed
// dimension. It returns every declared output, keyed by name, in Go memory
// that the caller owns.
func (s *Session) Run(inputs map[string]Tensor) (map[string]Tensor, error) {
	return s.RunInto(inputs, nil)
}

// RunInto is Run with some outputs written into tensors the caller
// provides (keyed by output name; nil or empty = none): ONNX Runtime writes
// such an output straight into its Go slice, which saves allocating it and
// copying it out of ONNX Runtime's memory, and lets a decoder reuse buffers
// from step to step. Each provided tensor must have the output's declared
// element type and rank and exactly the shape the model computes (ONNX
// Runtime reports a mismatch); the returned map holds it as given.
func (s *Session) RunInto(inputs, outputs map[string]Tensor) (map[string]Tensor, error) {
	if s.s == nil {
		return nil, fmt.Errorf("run %s: session is closed", s.Model)
	}
	if len(s.inputs) == 0 {
		return nil, fmt.Errorf("run %s: the model declares no inputs; sessions run models with at least one", s.Model)
	}
	if err := s.checkInputs(inputs); err != nil {
		return nil, fmt.Errorf("run %s: %w", s.Model, err)
	}
	if err := s.checkOutputs(outputs); err != nil {
		return nil, fmt.Errorf("run %s: %w", s.Model, err)
	}
	vals := make([]onnxruntime.Value, len(s.inputs))
	defer func() {
		for _, v := range vals {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for i, io := range s.inputs {
		var err error
		if vals[i], err = newValue(inputs[io.Name]); err != nil {
			return nil, fmt.Errorf("run %s: input %s: %w", s.Model, io.Name, err)
		}
	}
	outs := make([]onnxruntime.Value, len(s.outputs))
	defer func() {
		for _, v := range outs {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for i, io := range s.outputs {
		if t, ok := outputs[io.Name]; ok {
			var err error
			if outs[i], err = newValue(t); err != nil {
				return nil, fmt.Errorf("run %s: output %s: %w", s.Model, io.Name, err)
			}
		}
	}
	if err := s.s.Run(vals, outs); err != nil {
		return nil, fmt.Errorf("run %s: %w", s.Model, err)
	}
	res := make(map[string]Tensor, len(outs))
	for i, v := range outs {
		name := s.outputs[i].Name
		if t, ok := outputs[name]; ok {
			res[name] = t // ONNX Runtime wrote into t's slice
			continue
		}
		shape := slices.Clone([]int64(v.GetShape()))
		// onnxruntime_go copies each output ONNX Runtime allocated into a
		// Go-allocated slice (createTensorWithCData); that slice stays
		// valid after Destroy releases the OrtValue, so it is returned
		// without another copy.
		switch t := v.(type) {
		case *onnxruntime.Tensor[float32]:
			res[name] = Tensor{Shape: shape, Float32: t.GetData()}
		case *onnxruntime.Tensor[int64]:
			res[name] = Tensor{Shape: shape, Int64: t.GetData()}
		default:
			return nil, fmt.Errorf("run %s: output %s is a %s, not a float32 or int64 tensor", s.Model, name, s.outputs[i].Type)
		}
	}
	return res, nil
}

// newValue wraps t's Go slice (not copied) as an ONNX Runtime tensor.
func newValue(t Tensor) (onnxruntime.Value, error) {
	if t.Float32 != nil {
		return onnxruntime.NewTensor(onnxruntime.NewShape(t.Shape...), t.Float32)
	}
	return onnxruntime.NewTensor(onnxruntime.NewShape(t.Shape...), t.Int64)
}

// checkOutputs checks the tensors given to RunInto against the declared
// outputs: known names, element type, rank, fixed dimensions, data length.
func (s *Session) checkOutputs(outputs map[string]Tensor) error {
	for name, t := range outputs {
		io, ok := s.Output(name)
		if !ok {
			return fmt.Errorf("no output %s to write into: the model declares %s", name, describe(s.outputs))
		}
		if err := checkTensor("output", io, t); err != nil {
			return err
		}
	}
	return nil
}

// checkInputs compares the given inputs with the declared ones and says what
// differs: which names were expected and found, a wrong type, rank or dimension.
func (s *Session) checkInputs(inputs map[string]Tensor) error {
	var missing, unknown []string
	for _, io := range s.inputs {
		if _, ok := inputs[io.Name]; !ok {
			missing = append(missing, io.Name)
		}
	}
	for n := range inputs {
		if _, ok := s.Input(n); !ok {
			unknown = append(unknown, n)
		}
	}
	if len(missing) > 0 || len(unknown) > 0 {
		slices.Sort(unknown)
		given := make([]string, 0, len(inputs))
		for n := range inputs {
			given = append(given, n)
		}
		slices.Sort(given)
		return fmt.Errorf("inputs do not match the model: it expects %s, got %s (missing %v, unknown %v)",
			describe(s.inputs), strings.Join(given, ", "), missing, unknown)
	}
	for _, io := range s.inputs {
		if err := checkTensor("input", io, inputs[io.Name]); err != nil {
			return err
		}
	}
	return nil
}

// checkTensor checks t against the declared input or output io (what is
// "input" or "output").
func checkTensor(what string, io IOInfo, t Tensor) error {
	switch {
	case io.Type != Float32 && io.Type != Int64:
		return fmt.Errorf("%s %s has element type %q; only float32 and int64 %ss are supported", what, io.Name, io.Type, what)
	case t.Type() == "":
		return fmt.Errorf("%s %s: exactly one of Float32 and Int64 must hold the data", what, io.Name)
	case t.Type() != io.Type:
		return fmt.Errorf("%s %s: got %s data, the model declares %s", what, io.Name, t.Type(), io)
	case len(t.Shape) != len(io.Shape):
		return fmt.Errorf("%s %s: got shape %v, the model declares %s (rank %d)", what, io.Name, t.Shape, io, len(io.Shape))
	}
	n := int64(1)
	for d, v := range t.Shape {
		if v < 0 {
			return fmt.Errorf("%s %s: negative dimension in shape %v", what, io.Name, t.Shape)
		}
		if io.Shape[d] >= 0 && io.Shape[d] != v {
			return fmt.Errorf("%s %s: got shape %v, the model declares %s (dimension %d must be %d)", what, io.Name, t.Shape, io, d, io.Shape[d])
		}
		n *= v
	}
	if int64(t.len()) != n {
		return fmt.Errorf("%s %s: shape %v holds %d values, the data has %d", what, io.Name, t.Shape, n, t.len())
	}
	return nil
}

func describe(ios []IOInfo) string {
	parts := make([]string, len(ios))
	for i, io := range ios {
		parts[i] = io.String()
	}
	return strings.Join(parts, ", ")
}
