// Package hashing is promptgan's model-free text encoder: signed feature
// hashing ("the hashing trick", Weinberger et al. 2009) of a text's words,
// word pairs and character n-grams. It needs no download and no training,
// so it is the encoder of tests and of machines without the GloVe vectors.
//
// Features of a text, after lower-casing and splitting into words (maximal
// runs of letters and digits; everything else separates words and is
// dropped):
//   - every word ("w" namespace),
//   - every pair of adjacent words ("b"),
//   - every character 3-gram and 4-gram of each word with boundary marks,
//     "<cat>" → "<ca" "cat" "at>" "<cat" "cat>" ("c"), which gives related
//     word forms ("encode", "encoder", "encoding") shared features.
//
// Each feature string is hashed with 64-bit FNV-1a followed by the murmur3
// finaliser (for well-mixed high bits); the hash picks a bucket (hash mod
// Dim) and a sign (its top bit), so collisions cancel in expectation rather
// than pile up. The hash is fixed, not seeded per process: a text gets the
// same vector in every process, on every platform. A feature seen c times
// contributes ±(1 + ln c) (sublinear term frequency), and the vector is then
// L2-normalised, so cosine similarity is a dot product. A text without any
// word gets the zero vector.
package hashing
