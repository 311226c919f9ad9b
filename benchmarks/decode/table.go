package decode

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"promptgan/targets/onnx"
)

// BatchList writes batch sizes as a --batch value.
func BatchList(batches []int) string {
	s := make([]string, len(batches))
	for i, b := range batches {
		s[i] = strconv.Itoa(b)
	}
	return strings.Join(s, ",")
}

// kindDescription says how a model of res.Kind carries context between steps.
func kindDescription(res Result) string {
	switch res.Kind {
	case onnx.KVCache:
		return fmt.Sprintf("KV cache (past_key_values → present for %d layers): one new token per step", res.Layers)
	case onnx.LSTMState:
		return "LSTM state (past_state.h/.c → present_state.h/.c): one new token per step"
	case onnx.Plain:
		return "plain (no past inputs): the whole sequence is fed again at every step"
	}
	return string(res.Kind)
}

// WriteHeader writes what Run opened and how it decodes (Options.OnOpen).
func WriteHeader(w io.Writer, res Result) {
	stops := "none"
	if len(res.StopTokens) > 0 {
		stops = strings.Trim(fmt.Sprint(res.StopTokens), "[]")
	}
	bos := ""
	if res.AddBOS {
		bos = fmt.Sprintf(" after BOS %d", res.BOS)
	}
	fmt.Fprintf(w, "model    %s (model_type %s)\n", res.Model, res.ModelType)
	fmt.Fprintf(w, "kind     %s\n", kindDescription(res))
	tok := "none (token ids only)"
	if res.Tokenizer {
		tok = onnx.TokenizerFile + " loaded"
	}
	fmt.Fprintf(w, "vocab    %d, tokenizer %s\n", res.Vocab, tok)
	fmt.Fprintf(w, "device   %s, %d intra-op threads, ONNX Runtime %s (%s)\n", res.Device, res.Threads, res.ORTVersion, res.ORTLibrary)
	fmt.Fprintf(w, "decode   greedy; %d random prompt tokens (seed %d)%s; %d new tokens; stop tokens %s; %d warm-up + %d timed decodes per batch\n\n",
		res.PromptLen, res.Seed, bos, res.NewTokens, stops, res.Warmup, res.Repeats)
}

// WriteTable writes res's rows, throughput per batch size, then, when the
// model has a tokenizer, its first prompt and generation as text.
func WriteTable(w io.Writer, res *Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "batch\ttokens/s\tms/step\tsteps\tnew tokens\tseconds\t")
	for _, r := range res.Rows {
		fmt.Fprintf(tw, "%d\t%.1f\t%.3f\t%d\t%d\t%.3f\t\n", r.Batch, r.TokensPerS, r.MsPerStep, r.Steps, r.NewTokens, r.Seconds)
	}
	if err := tw.Flush(); err != nil || !res.Tokenizer {
		return err
	}
	_, err := fmt.Fprintf(w, "\nfirst prompt + generation as text: %q\n", res.Sample)
	return err
}
