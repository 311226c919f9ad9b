// Package discriminator is promptgan's learned evaluator for token sequences:
// an ensemble of K independently initialised networks (embedding → LSTM →
// linear head), each giving a logit at every position t that judges the
// prefix x_1..x_t as real (a good generation) or generated. Per-position
// judgements give the generator per-token credit without Monte-Carlo
// roll-outs (as in ScratchGAN, de Masson d'Autume et al. 2019). The ensemble's
// score is the members' mean probability; their spread is its uncertainty.
//
// The loss a member is trained with is not here: search/loss.go holds the
// GAN losses and hands Backward the gradient with respect to the logits.
package discriminator
