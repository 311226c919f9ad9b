package onnx

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"promptgan/internal/ort"
)

// Kind is how a model carries context from one decode step to the next.
type Kind string

// The signatures target/onnx runs.
const (
	// Plain models take (input_ids, attention_mask[, position_ids]) and
	// return logits: the whole sequence is fed again at every step.
	Plain Kind = "plain"
	// KVCache models also take past_key_values.{i}.key/.value and return
	// present.{i}.key/.value (Optimum's text-generation-with-past): one new
	// token per step.
	KVCache Kind = "kv-cache"
	// LSTMState models also take past_state.h/.c and return
	// present_state.h/.c (promptgan's exported LSTM, internal/ort/export):
	// one new token per step.
	LSTMState Kind = "lstm-state"
)

// The input and output names of the Optimum causal-LM signature.
const (
	inIDs       = "input_ids"
	inMask      = "attention_mask"
	inPos       = "position_ids"
	outLogits   = "logits"
	inStateH    = "past_state.h"
	inStateC    = "past_state.c"
	outStateH   = "present_state.h"
	outStateC   = "present_state.c"
	pastPrefix  = "past_key_values."
	presentPref = "present."
)

var pastRE = regexp.MustCompile(`^past_key_values\.(\d+)\.(key|value)$`)

func pastName(layer int, kv string) string    { return pastPrefix + strconv.Itoa(layer) + "." + kv }
func presentName(layer int, kv string) string { return presentPref + strconv.Itoa(layer) + "." + kv }

// signature is what Open learnt from model.onnx's declared inputs and outputs.
type signature struct {
	kind    Kind
	hasMask bool  // attention_mask is an input
	hasPos  bool  // position_ids is an input
	vocab   int64 // logits' last dimension; -1 when dynamic
	layers  int   // KVCache: number of layers
	heads   int64 // KVCache: key/value heads
	headDim int64 // KVCache: width of a head
	hidden  int64 // LSTMState: state width
}

const expectedSignature = "expected inputs input_ids int64[batch,seq], optionally attention_mask int64[batch,seq] and position_ids int64[batch,seq], " +
	"and either past_key_values.{i}.key/.value float32[batch,heads,past,head_dim] for every layer i (Optimum --task text-generation-with-past) " +
	"or past_state.h/.c float32[batch,hidden] (promptgan's exported LSTM) or neither (text-generation without past); " +
	"outputs logits float32[batch,seq,vocab], plus present.{i}.key/.value or present_state.h/.c matching the past inputs"

// detectSignature classifies the model's inputs and outputs. cfg supplies
// the head count and width when the past inputs declare them dynamic.
func detectSignature(path string, ins, outs []ort.IOInfo, cfg *modelConfig) (signature, error) {
	fail := func(format string, args ...any) (signature, error) {
		return signature{}, fmt.Errorf("%s: unsupported signature: %s; %s; found inputs %s; outputs %s",
			path, fmt.Sprintf(format, args...), expectedSignature, describe(ins), describe(outs))
	}
	in := func(name string) (ort.IOInfo, bool) { return findIO(ins, name) }
	out := func(name string) (ort.IOInfo, bool) { return findIO(outs, name) }
	want := func(io ort.IOInfo, typ ort.ElemType, rank int) error {
		if io.Type != typ || len(io.Shape) != rank {
			return fmt.Errorf("%s is %s, want %s of rank %d", io.Name, io, typ, rank)
		}
		return nil
	}

	var sig signature
	ids, ok := in(inIDs)
	if !ok {
		return fail("no input %s", inIDs)
	}
	if err := want(ids, ort.Int64, 2); err != nil {
		return fail("%v", err)
	}
	if m, ok := in(inMask); ok {
		if err := want(m, ort.Int64, 2); err != nil {
			return fail("%v", err)
		}
		sig.hasMask = true
	}
	if p, ok := in(inPos); ok {
		if err := want(p, ort.Int64, 2); err != nil {
			return fail("%v", err)
		}
		sig.hasPos = true
	}
	logits, ok := out(outLogits)
	if !ok {
		return fail("no output %s", outLogits)
	}
	if err := want(logits, ort.Float32, 3); err != nil {
		return fail("%v", err)
	}
	sig.vocab = logits.Shape[2]

	// The past inputs.
	pastKV := map[int]int{} // layer → how many of key, value
	var state, other []string
	for _, io := range ins {
		switch {
		case io.Name == inIDs || io.Name == inMask || io.Name == inPos:
		case io.Name == inStateH || io.Name == inStateC:
			state = append(state, io.Name)
		case pastRE.MatchString(io.Name):
			l, _ := strconv.Atoi(pastRE.FindStringSubmatch(io.Name)[1])
			pastKV[l]++
		default:
			other = append(other, io.Name)
		}
	}
	if len(other) > 0 {
		return fail("unknown inputs %s (a merged decoder with use_cache_branch, or token_type_ids, is not supported: export with optimum-cli export onnx --task text-generation-with-past, which writes a single model.onnx)", strings.Join(other, ", "))
	}
	switch {
	case len(pastKV) > 0 && len(state) > 0:
		return fail("both past_key_values.* and past_state.* inputs")
	case len(pastKV) > 0:
		sig.kind = KVCache
		sig.layers = len(pastKV)
		sig.heads, sig.headDim = -1, -1
		for l := range sig.layers {
			if pastKV[l] != 2 {
				return fail("the past_key_values inputs of %d layers should be numbered 0..%d, each with .key and .value; layer %d is incomplete or missing", sig.layers, sig.layers-1, l)
			}
			for _, kv := range []string{"key", "value"} {
				p, _ := in(pastName(l, kv))
				if err := want(p, ort.Float32, 4); err != nil {
					return fail("%v (float16 models are not supported: export in float32)", err)
				}
				pr, ok := out(presentName(l, kv))
				if !ok {
					return fail("input %s has no matching output %s", p.Name, presentName(l, kv))
				}
				if err := want(pr, ort.Float32, 4); err != nil {
					return fail("%v", err)
				}
				for _, d := range []struct {
					dim  int
					into *int64
				}{{1, &sig.heads}, {3, &sig.headDim}} {
					v := p.Shape[d.dim]
					if v >= 0 && *d.into >= 0 && v != *d.into {
						return fail("%s declares %s, unlike the other past inputs", p.Name, p)
					}
					if v >= 0 {
						*d.into = v
					}
				}
			}
		}
		if sig.heads < 0 {
			if cfg.Heads == 0 {
				return fail("the past inputs' head count (dimension 1) is dynamic and config.json has no num_key_value_heads, num_attention_heads or n_head")
			}
			sig.heads = int64(cfg.Heads)
		}
		if sig.headDim < 0 {
			if cfg.HeadDim == 0 {
				return fail("the past inputs' head width (dimension 3) is dynamic and config.json has no head_dim, nor hidden_size and num_attention_heads")
			}
			sig.headDim = int64(cfg.HeadDim)
		}
	case len(state) > 0:
		sig.kind = LSTMState
		sig.hidden = -1
		for _, pair := range [][2]string{{inStateH, outStateH}, {inStateC, outStateC}} {
			p, ok := in(pair[0])
			if !ok {
				return fail("input %s without %s", state[0], pair[0])
			}
			if err := want(p, ort.Float32, 2); err != nil {
				return fail("%v", err)
			}
			pr, ok := out(pair[1])
			if !ok {
				return fail("input %s has no matching output %s", pair[0], pair[1])
			}
			if err := want(pr, ort.Float32, 2); err != nil {
				return fail("%v", err)
			}
			if v := p.Shape[1]; v >= 0 {
				sig.hidden = v
			}
		}
		if sig.hidden < 0 {
			if cfg.Hidden == 0 {
				return fail("the state width of past_state.h (dimension 1) is dynamic and config.json has no hidden_size")
			}
			sig.hidden = int64(cfg.Hidden)
		}
	default:
		sig.kind = Plain
	}
	return sig, nil
}

func findIO(ios []ort.IOInfo, name string) (ort.IOInfo, bool) {
	i := slices.IndexFunc(ios, func(io ort.IOInfo) bool { return io.Name == name })
	if i < 0 {
		return ort.IOInfo{}, false
	}
	return ios[i], true
}

func describe(ios []ort.IOInfo) string {
	if len(ios) == 0 {
		return "(none)"
	}
	parts := make([]string, len(ios))
	for i, io := range ios {
		parts[i] = io.String()
	}
	return strings.Join(parts, ", ")
}
