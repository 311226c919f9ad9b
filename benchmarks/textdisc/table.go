package textdisc

import (
	"fmt"
	"io"
	"strings"

	"promptgan/embeddings"
)

// ParseEncoders parses the --encoder values (embeddings.ParseSpec), each
// onnx encoder to load ONNX Runtime from library.
func ParseEncoders(names []string, library string) ([]embeddings.Spec, error) {
	var specs []embeddings.Spec
	for _, e := range names {
		spec, err := embeddings.ParseSpec(e)
		if err != nil {
			return nil, fmt.Errorf("--encoder %s: %w", e, err)
		}
		spec.Library = library
		specs = append(specs, spec)
	}
	return specs, nil
}

// WriteTable writes res as a table, one row per encoder and model, with the
// time each encoder took to encode every text once.
func WriteTable(w io.Writer, res Result) error {
	sp := res.Split
	fmt.Fprintf(w, "text-disc on %s (sha256 %.12s…): train %d, test %d items; split seed %d; network seeds %v\n", res.Task, res.TaskSHA256, res.TrainItems, res.TestItems, sp.Seed, res.Seeds)
	fmt.Fprintf(w, "held-out test split, mean ± std over seeds; ECE with %d equal-width bins; calibration: %s\n\n", res.ECEBins, res.Calibration)
	fmt.Fprintf(w, "%-12s %-22s %-15s %-15s %-15s %-15s %-10s %-6s %s\n", "encoder", "model", "AUC", "accuracy", "ECE raw", "ECE calibrated", "ECE floor", "T", "spread")
	for _, r := range res.Rows {
		fmt.Fprintf(w, "%-12s %-22s %-15s %-15s %-15s %-15s %-10.3f %-6.2f %.3f\n", r.Encoder, r.Model, pm(r.AUC), pm(r.Accuracy), pm(r.ECERaw), pm(r.ECE), r.ECEFloor.Mean, r.Temperature.Mean, r.Spread.Mean)
	}
	fmt.Fprintf(w, "\nECE floor: the ECE a perfectly calibrated predictor with the same scores shows on %d test items (mean of %d label draws)\n", res.TestItems, FloorDraws)
	var enc []string
	for _, name := range res.Encoders {
		enc = append(enc, fmt.Sprintf("%s %.2f s", name, res.EncodeS[name]))
	}
	_, err := fmt.Fprintf(w, "\nencoding every text once: %s\n", strings.Join(enc, ", "))
	return err
}

func pm(s Stat) string { return fmt.Sprintf("%.3f ± %.3f", s.Mean, s.Std) }
