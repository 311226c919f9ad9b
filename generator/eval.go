package generator

import "promptgan/internal/nn"

// EvalChunk bounds the memory of batched sampling and scoring
// (SampleBatched, SequenceNLL, MeanNLL): chunk·T·V logits.
const EvalChunk = 128

// SampleBatched draws n sequences of length T from m at temperature temp, in chunks.
func SampleBatched(m *Model, n, T int, temp float64, rng *nn.RNG) []int32 {
	out := make([]int32, 0, n*T)
	for done := 0; done < n; done += EvalChunk {
		k := min(EvalChunk, n-done)
		out = append(out, m.Sample(k, T, SampleOptions{Temperature: temp}, nil, rng)...)
	}
	return out
}

// SequenceNLL returns the mean per-token negative log-likelihood of each of
// the (n, T) sequences under m at temperature temp.
func SequenceNLL(m *Model, tokens []int32, n, T int, temp float64) []float64 {
	out := make([]float64, n)
	for done := 0; done < n; done += EvalChunk {
		k := min(EvalChunk, n-done)
		lp := m.LogProbs(tokens[done*T:(done+k)*T], k, T, temp, nil)
		for i := 0; i < k; i++ {
			for t := 0; t < T; t++ {
				out[done+i] -= float64(lp[i*T+t])
			}
			out[done+i] /= float64(T)
		}
	}
	return out
}

// MeanNLL returns the mean per-token negative log-likelihood of the (n, T)
// sequences under m at temperature temp, scored in chunks.
func MeanNLL(m *Model, tokens []int32, n, T int, temp float64) float64 {
	var s float64
	for done := 0; done < n; done += EvalChunk {
		k := min(EvalChunk, n-done)
		for _, lp := range m.LogProbs(tokens[done*T:(done+k)*T], k, T, temp, nil) {
			s -= float64(lp)
		}
	}
	return s / float64(n*T)
}
