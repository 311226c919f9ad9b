// Package generator is promptgan's prompt policy: a recurrent network over a
// token vocabulary (embedding → LSTM → softmax over the vocabulary), optionally
// conditioned on a task vector. It samples sequences with temperature and
// top-k, scores sequences (per-token log-probabilities), and takes gradients
// of a per-token weighted loss that covers both maximum-likelihood training
// (weights 1/(B·T)) and policy-gradient training (weights = advantages / B),
// with an optional entropy bonus.
//
// Token sequences are (B, T) row-major []int32: token t of sequence b is at
// b*T+t. The first input of every sequence is the embedding row of
// Config.StartToken, as in SeqGAN; it is not part of the sequence.
package generator
