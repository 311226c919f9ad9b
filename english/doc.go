// Package english builds promptgan's English steering benchmark from text
// the registries carry: the corpus (Debian's fortunes topic files and the
// UCI review sentences, as classes split into disjoint parts), a steerable
// instruction-following LSTM language model trained on it by promptgan's
// own code and exported in the Optimum layout (the target of the English
// tasks), and a plain reference LM whose perplexity tells fluent text from
// degenerate text.
//
// Every part of a class is chosen by a hash of the text's normalised form,
// so the same text always lands in the same part and duplicates together:
//
//	target (50%)  trains the target LM
//	disc   (20%)  the tasks' discriminator data
//	audit  (15%)  trains the audit classifier (and, with disc, the reference LM)
//	test   (15%)  real held-out text, never trained on
package english
