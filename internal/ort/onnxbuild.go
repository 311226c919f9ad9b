package ort

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

	"promptgan/internal/atomicfile"
	"promptgan/internal/ort/onnxpb"
)

// The ONNX versions Graph writes: IR version 8 (ONNX 1.12) and the default
// operator set 17, both of which ONNX Runtime 1.24 runs.
const (
	IRVersion = 8
	Opset     = 17
)

// Dim is one dimension of a declared input or output: a fixed size, or a
// named dynamic one ("batch", "sequence").
type Dim struct {
	Size int64  // used when Name is ""
	Name string // symbolic name of a dynamic dimension
}

// Fixed returns a dimension of size n.
func Fixed(n int64) Dim { return Dim{Size: n} }

// Dynamic returns a dynamic dimension called name.
func Dynamic(name string) Dim { return Dim{Name: name} }

// Attr is a node attribute; make one with AttrInt, AttrInts, AttrFloat,
// AttrFloats or AttrString.
type Attr = *onnxpb.AttributeProto

// AttrInt returns an integer attribute.
func AttrInt(name string, v int64) Attr {
	return &onnxpb.AttributeProto{Name: &name, Type: onnxpb.AttributeProto_INT.Enum(), I: &v}
}

// AttrInts returns an integer-list attribute.
func AttrInts(name string, v ...int64) Attr {
	return &onnxpb.AttributeProto{Name: &name, Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

// AttrFloat returns a float attribute.
func AttrFloat(name string, v float32) Attr {
	return &onnxpb.AttributeProto{Name: &name, Type: onnxpb.AttributeProto_FLOAT.Enum(), F: &v}
}

// AttrFloats returns a float-list attribute.
func AttrFloats(name string, v ...float32) Attr {
	return &onnxpb.AttributeProto{Name: &name, Type: onnxpb.AttributeProto_FLOATS.Enum(), Floats: v}
}

// AttrString returns a string attribute.
func AttrString(name, v string) Attr {
	return &onnxpb.AttributeProto{Name: &name, Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

// Graph builds an ONNX model graph: inputs, initializers, nodes in
// topological order, outputs. Methods record the first mistake (a duplicate
// name, data that does not fit its shape, a node reading a value nothing
// defines) and Marshal reports it, so a graph is written as a straight list
// of calls and checked once.
type Graph struct {
	g       *onnxpb.GraphProto
	meta    []*onnxpb.StringStringEntryProto
	defined map[string]string // value name → what defined it
	err     error
}

// NewGraph returns an empty graph called name.
func NewGraph(name string) *Graph {
	return &Graph{g: &onnxpb.GraphProto{Name: &name}, defined: map[string]string{}}
}

func (g *Graph) fail(format string, args ...any) {
	if g.err == nil {
		g.err = fmt.Errorf("onnx graph %s: "+format, append([]any{g.g.GetName()}, args...)...)
	}
}

func (g *Graph) define(name, what string) {
	if name == "" {
		g.fail("%s has an empty name", what)
		return
	}
	if prev, ok := g.defined[name]; ok {
		g.fail("%s: value %q is already defined by %s", what, name, prev)
		return
	}
	g.defined[name] = what
}

func valueInfo(name string, elem ElemType, dims []Dim) (*onnxpb.ValueInfoProto, error) {
	var et onnxpb.TensorProto_DataType
	switch elem {
	case Float32:
		et = onnxpb.TensorProto_FLOAT
	case Int64:
		et = onnxpb.TensorProto_INT64
	default:
		return nil, fmt.Errorf("value %s: element type %q (the builder writes float32 and int64)", name, elem)
	}
	shape := &onnxpb.TensorShapeProto{}
	for i, d := range dims {
		dim := &onnxpb.TensorShapeProto_Dimension{}
		if d.Name != "" {
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d.Name}
		} else if d.Size >= 0 {
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d.Size}
		} else {
			return nil, fmt.Errorf("value %s: dimension %d has size %d", name, i, d.Size)
		}
		shape.Dim = append(shape.Dim, dim)
	}
	t := int32(et)
	return &onnxpb.ValueInfoProto{
		Name: &name,
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: &t, Shape: shape}}},
	}, nil
}

// Input declares a graph input.
func (g *Graph) Input(name string, elem ElemType, dims ...Dim) {
	g.define(name, "input "+name)
	vi, err := valueInfo(name, elem, dims)
	if err != nil {
		g.fail("input: %v", err)
		return
	}
	g.g.Input = append(g.g.Input, vi)
}

// Output declares a graph output; some node must produce it.
func (g *Graph) Output(name string, elem ElemType, dims ...Dim) {
	vi, err := valueInfo(name, elem, dims)
	if err != nil {
		g.fail("output: %v", err)
		return
	}
	g.g.Output = append(g.g.Output, vi)
}

func checkLen(n int, dims []int64) (int64, bool) {
	want := int64(1)
	for _, d := range dims {
		if d < 0 {
			return -1, false
		}
		want *= d
	}
	return want, int64(n) == want
}

// Float32Initializer adds a constant float32 tensor (a weight) of shape dims.
func (g *Graph) Float32Initializer(name string, data []float32, dims ...int64) {
	g.define(name, "initializer "+name)
	if want, ok := checkLen(len(data), dims); !ok {
		g.fail("initializer %s: shape %v needs %d values, got %d", name, dims, want, len(data))
		return
	}
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	dt := int32(onnxpb.TensorProto_FLOAT)
	g.g.Initializer = append(g.g.Initializer, &onnxpb.TensorProto{Name: &name, Dims: dims, DataType: &dt, RawData: raw})
}

// Int64Initializer adds a constant int64 tensor (axes, shapes, indices).
func (g *Graph) Int64Initializer(name string, data []int64, dims ...int64) {
	g.define(name, "initializer "+name)
	if want, ok := checkLen(len(data), dims); !ok {
		g.fail("initializer %s: shape %v needs %d values, got %d", name, dims, want, len(data))
		return
	}
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	dt := int32(onnxpb.TensorProto_INT64)
	g.g.Initializer = append(g.g.Initializer, &onnxpb.TensorProto{Name: &name, Dims: dims, DataType: &dt, RawData: raw})
}

// Node appends an operator of the default domain. Its inputs must already be
// defined (an empty name marks an omitted optional input); its outputs
// become defined (an empty name marks an unused optional output).
func (g *Graph) Node(op string, inputs, outputs []string, attrs ...Attr) {
	name := fmt.Sprintf("%s_%d", op, len(g.g.Node))
	for _, in := range inputs {
		if in != "" && g.defined[in] == "" {
			g.fail("node %s reads %q, which no input, initializer or earlier node defines", name, in)
		}
	}
	for _, out := range outputs {
		if out != "" {
			g.define(out, "node "+name)
		}
	}
	g.g.Node = append(g.g.Node, &onnxpb.NodeProto{Name: &name, OpType: &op, Input: inputs, Output: outputs, Attribute: attrs})
}

// Meta adds a key/value pair to the model's metadata_props.
func (g *Graph) Meta(key, value string) {
	g.meta = append(g.meta, &onnxpb.StringStringEntryProto{Key: &key, Value: &value})
}

// Model returns the graph as a ModelProto (IR 8, opset 17), or the first
// mistake made while building it.
func (g *Graph) Model() (*onnxpb.ModelProto, error) {
	if g.err != nil {
		return nil, g.err
	}
	for _, o := range g.g.Output {
		if g.defined[o.GetName()] == "" {
			return nil, fmt.Errorf("onnx graph %s: output %q is produced by no node", g.g.GetName(), o.GetName())
		}
	}
	if len(g.g.Output) == 0 {
		return nil, fmt.Errorf("onnx graph %s: no outputs declared", g.g.GetName())
	}
	return &onnxpb.ModelProto{
		IrVersion:     proto.Int64(IRVersion),
		OpsetImport:   []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(Opset)}},
		ProducerName:  proto.String("promptgan"),
		Graph:         g.g,
		MetadataProps: g.meta,
	}, nil
}

// Marshal serialises the model.
func (g *Graph) Marshal() ([]byte, error) {
	m, err := g.Model()
	if err != nil {
		return nil, err
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("onnx graph %s: serialise: %w", g.g.GetName(), err)
	}
	return b, nil
}

// WriteFile serialises the model into path (atomicfile.Write: a reader
// never sees half a model, nor does a crash leave one).
func (g *Graph) WriteFile(path string) error {
	b, err := g.Marshal()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, b); err != nil {
		return fmt.Errorf("write ONNX model: %w", err)
	}
	return nil
}
