package seqganoracle

import (
	"fmt"
	"io"

	"promptgan/search"
)

// WriteTable writes the benchmark's result: the MLE-vs-GAN table beside the
// published figures, and the time each phase took.
func WriteTable(w io.Writer, br *Result) error {
	fmt.Fprintf(w, "seqgan-oracle (%s preset, seed %d, %d samples per NLL-oracle figure; %s, %d CPUs)\n\n", br.Preset, br.Seed, br.Samples, br.BLAS, br.CPUs)
	search.WriteCompare(w, br.Rows)
	fmt.Fprintf(w, "\nreference: oracle on its own samples 5.747; SeqGAN paper MLE 9.038, SeqGAN 8.736\n\n")
	for _, name := range []string{search.PhaseMLE, search.PhaseDPretrain, search.PhaseAdversarial} {
		if p, ok := br.Phases[name]; ok {
			fmt.Fprintf(w, "%-12s %6d steps  %7.1f s  %6.1f steps/s", name, p.Steps, p.Seconds, p.StepsPerSec)
			if p.GFLOPs > 0 {
				fmt.Fprintf(w, "  %.1f GFLOP/s", p.GFLOPs)
			}
			fmt.Fprintln(w)
		}
	}
	_, err := fmt.Fprintf(w, "training %.1f s, total with evaluation %.1f s\ncheckpoint %s\n", br.TrainS, br.WallS, br.Checkpoint)
	return err
}
