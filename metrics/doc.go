// Package metrics provides text-generation metrics over token-id sequences
// (distinct-n, BLEU, Self-BLEU, mean negative log-likelihood), classifier
// metrics for the discriminator as an evaluator (AUC by Mann–Whitney,
// accuracy, ECE with equal-width bins, the Brier score) and the run log
// metrics.jsonl (one JSON [Record] per line).
//
// Sequences are [][]int of token ids. The BLEU family follows NLTK's
// nltk.translate.bleu_score.sentence_bleu with SmoothingFunction().method1,
// which is what Texygen (Zhu et al. 2018) uses for Self-BLEU, so numbers are
// comparable with published Self-BLEU figures.
package metrics
