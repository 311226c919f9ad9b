package search

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"promptgan/discriminator"
	"promptgan/internal/atomicfile"
	"promptgan/internal/ort"
)

// DiscriminatorFile is the name WriteDiscriminator gives the ONNX model;
// its description goes beside it as discriminator.json.
const DiscriminatorFile = "discriminator.onnx"

// WriteDiscriminator writes a text run's discriminator as ONNX to
// dir/discriminator.onnx and its description (ExportDiscriminator) to
// dir/discriminator.json, each atomically, and returns the description and
// the model's size in bytes.
func (tr *Trainer) WriteDiscriminator(dir string) (desc DiscriminatorExport, size int, err error) {
	model, desc, err := tr.ExportDiscriminator(DiscriminatorFile)
	if err != nil {
		return desc, 0, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return desc, 0, fmt.Errorf("export: %w", err)
	}
	descJSON, err := json.MarshalIndent(desc, "", "  ")
	if err != nil {
		return desc, 0, fmt.Errorf("export: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{DiscriminatorFile, model}, {"discriminator.json", append(descJSON, '\n')}} {
		if err := atomicfile.Write(filepath.Join(dir, f.name), f.data); err != nil {
			return desc, 0, fmt.Errorf("export: %w", err)
		}
	}
	return desc, len(model), nil
}

// ONNXPairScorer returns a PairScorer for ScorePairs that runs a text run's
// discriminator, exported, on ONNX Runtime (library "" = $PROMPTGAN_ORT_LIB
// or the setup cache) with opt, and the function that releases it.
func (tr *Trainer) ONNXPairScorer(library string, opt ort.Options) (PairScorer, func() error, error) {
	model, _, err := tr.ExportDiscriminator("")
	if err != nil {
		return nil, nil, err
	}
	s, err := discriminator.NewTextScorerORT(model, discriminator.TextScorerOptions{Library: library, Options: opt})
	if err != nil {
		return nil, nil, err
	}
	return s.Score, s.Close, nil
}

// ExportDir is where export writes for the run or checkpoint at path:
// out, or the run's own directory's export/ when out is empty (beside the
// run, not wherever the command was run from).
func ExportDir(path, out string) (string, error) {
	if out != "" {
		return out, nil
	}
	_, runDir, err := ResolveCheckpoint(path)
	if err != nil {
		return "", err
	}
	return filepath.Join(runDir, "export"), nil
}
