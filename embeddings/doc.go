// Package embeddings turns texts into vectors for the discriminator and the
// search: one Encoder interface, a content-addressed Cache in front of any
// encoder, and Open, which builds the encoder a Spec names. The encoders
// live in subpackages: glove (GloVe-SIF, the default, pretrained word
// vectors fetched by `make setup`) and hashing (feature hashing of words and
// character n-grams; no model).
package embeddings
