// Package search is promptgan's adversarial trainer, one loop for every
// kind of run: the sequence GAN (identity target: the generation is the
// prompt), prompt search against a model (an ONNX export, …) and text runs
// (a task's good and bad texts, a text discriminator). A run is one global
// step counter over three phases: steps 1..mle_steps train G by maximum
// likelihood on real prompts, the next d_pretrain_steps train D against the
// target's generations of G's prompts, and the remaining steps up to steps
// are adversarial (Trainer.adversarialStep, top to bottom, for every kind
// of run):
//
//	prompts p_1..p_B ~ G                      sample prompts
//	y_ij = T(p_i), j ≤ continuations          the target generates (batched, through the call ledger)
//	D ← D − ∇ L_D                             d_steps_per_g times, each on fresh calls
//	r = log D(y)                              non-saturating reward, credited per token (identity
//	                                          target: prefix, delta or rollout) or per sequence
//	A = (R − b)/σ,  b ← EMA of R              advantages
//	G ← G + η ∇ Σ A log G(p) + β ∇ H(G)       REINFORCE (+ entropy bonus, + MLE term)
//
// then evaluate (held-out data, the hall of fame, the feedback rule that
// stabilises training once the metric passes a threshold and stops on
// patience) and checkpoint. What differs between kinds of run — how D
// reads a generation (token ids or a text's features), how it is updated
// and rewards, what an evaluation reports and what D checkpoints — is the
// critic (critic.go: tokenCritic, and textRun for text runs); the trainer
// keeps G, its optimisers, the baselines, the feedback rule and the RNG
// streams (streams.go). L_D is discriminator.Loss, written once; credit
// assignment and advantages are in loss.go. Everything a step depends on (weights, every
// optimiser, RNG streams, replay buffer, baseline, data positions) is in the
// checkpoint, so a resumed run continues bit-exactly. Run drives a Trainer
// with these guarantees; benchmarks use it too (in memory). Package
// search/rank holds the search baselines (best-of-N, evolutionary search)
// as a reusable ranking API.
package search
