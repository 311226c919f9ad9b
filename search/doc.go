// Package search is promptgan's adversarial trainer: maximum-likelihood
// pre-training of the generator, pre-training of the discriminator, then the
// GAN loop of DESIGN.md (sample → target → D step → G step → evaluate →
// checkpoint → stop check), with the feedback rule that stabilises training
// once the held-out metric passes a threshold and stops on patience.
//
// The GAN losses are plain functions in loss.go. A run is one global step
// counter over three phases: steps 1..MLESteps train G by maximum likelihood,
// the next DPretrainSteps train D against G's samples, and the remaining
// steps up to Steps are adversarial. Everything a step depends on (weights,
// both optimisers, RNG state, replay buffer, baselines, data position) is in
// the checkpoint, so a resumed run continues bit-exactly.
package search
