// Package audit judges generations independently of the discriminator: the
// English steering tasks' data, an audit classifier on a feature set the
// discriminator never uses (hashing n-grams, where D reads GloVe-SIF) trained
// on the corpus's "audit" part only, a reference LM whose perplexity says
// whether a continuation reads like real text, and the task score of a
// prompt built from them — the figure every method on the English tasks is
// compared by, so that a method that fools D (reward hacking) or makes the
// target repeat itself does not score.
package audit
