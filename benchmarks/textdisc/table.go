package textdisc

import (
	"fmt"
	"io"
	"strings"

	"promptgan/embeddings"
)

// WriteTable writes res as a table, one row per encoder and model, with the
// time each of encoders took to encode every text once.
func WriteTable(w io.Writer, res Result, encoders []embeddings.Spec) {
	sp := res.Split
	fmt.Fprintf(w, "text-disc on %s (sha256 %.12s…): train %d, test %d items; split seed %d; network seeds %v\n", res.Task, res.TaskSHA256, res.TrainItems, res.TestItems, sp.Seed, res.Seeds)
	fmt.Fprintf(w, "held-out test split, mean ± std over seeds; ECE with %d equal-width bins; calibration: %s\n\n", res.ECEBins, res.Calibration)
	fmt.Fprintf(w, "%-12s %-22s %-15s %-15s %-15s %-15s %-10s %-6s %s\n", "encoder", "model", "AUC", "accuracy", "ECE raw", "ECE calibrated", "ECE floor", "T", "spread")
	for _, r := range res.Rows {
		fmt.Fprintf(w, "%-12s %-22s %-15s %-15s %-15s %-15s %-10.3f %-6.2f %.3f\n", r.Encoder, r.Model, pm(r.AUC), pm(r.Accuracy), pm(r.ECERaw), pm(r.ECE), r.ECEFloor.Mean, r.Temperature.Mean, r.Spread.Mean)
	}
	fmt.Fprintf(w, "\nECE floor: the ECE a perfectly calibrated predictor with the same scores shows on %d test items (mean of %d label draws)\n", res.TestItems, FloorDraws)
	var enc []string
	for _, spec := range encoders {
		enc = append(enc, fmt.Sprintf("%s %.2f s", spec.Name, res.EncodeS[spec.Name]))
	}
	fmt.Fprintf(w, "\nencoding every text once: %s\n", strings.Join(enc, ", "))
}

func pm(s Stat) string { return fmt.Sprintf("%.3f ± %.3f", s.Mean, s.Std) }
