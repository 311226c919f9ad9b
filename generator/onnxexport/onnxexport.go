// Package onnxexport writes promptgan's generator network as an ONNX causal
// LM in the Optimum layout: it hands the weights of a generator.Model to
// internal/ort/export. It sits above both so that neither imports the other.
package onnxexport

import (
	"fmt"

	"promptgan/generator"
	"promptgan/internal/ort/export"
)

// LSTM takes the weights of an unconditioned generator network (the SeqGAN
// oracle loaded by generator.LoadOracle is one). The slices are shared, not
// copied.
func LSTM(m *generator.Model) (export.LSTMLM, error) {
	if m.Wcond != nil {
		return export.LSTMLM{}, fmt.Errorf("export: the generator is conditioned on a %d-wide task vector; only unconditioned generators are causal LMs", m.Cfg.CondDim)
	}
	return export.LSTMLM{
		Vocab: m.Cfg.Vocab, Emb: m.Cfg.Emb, Hidden: m.Cfg.Hidden, StartToken: m.Cfg.StartToken,
		Embedding: m.Emb.W, Wx: m.LSTM.Wx.W, Wh: m.LSTM.Wh.W, B: m.LSTM.B.W, Wout: m.Wout.W, Bout: m.Bout.W,
	}, nil
}
