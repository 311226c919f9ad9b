package audit

import (
	"context"
	"fmt"

	"promptgan/english"
)

// EnglishRef is english's reference LM (an LSTM trained on the corpus's
// disc and audit parts) as a PerplexityModel. Its perplexity includes the
// closing <eos>, so a continuation cut mid-sentence pays for one unlikely
// end; the band is fitted on complete "test" sentences under the same LM.
type EnglishRef struct{ LM *english.RefLM }

// Perplexity scores texts with the LM, in chunks so a cancelled context is
// noticed.
func (r EnglishRef) Perplexity(ctx context.Context, texts []string) ([]float64, error) {
	out := make([]float64, 0, len(texts))
	const chunk = 512
	for lo := 0; lo < len(texts); lo += chunk {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reference LM: %w", err)
		}
		out = append(out, r.LM.Perplexity(texts[lo:min(lo+chunk, len(texts))])...)
	}
	return out, nil
}
