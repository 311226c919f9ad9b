// Package discriminator is promptgan's learned evaluator.
//
// For token sequences (Ensemble): an ensemble of K independently
// initialised networks (embedding → LSTM → linear head), each giving a logit
// at every position t that judges the prefix x_1..x_t as real (a good
// generation) or generated. Per-position judgements give the generator
// per-token credit without Monte-Carlo roll-outs (as in ScratchGAN, de
// Masson d'Autume et al. 2019). The ensemble's score is the members' mean
// probability; their spread is its uncertainty.
//
// For text (TextEnsemble): (input, generation) pairs are judged from
// sentence embeddings plus surface features of the generation (TextFeatures)
// by K one-hidden-layer ReLU MLPs (or logistic regressions). FitText trains
// it on labelled rows, Calibrate fits a temperature on validation rows,
// Score reports the calibrated probability and the members' spread, and
// ExportONNX / TextScorerORT score in bulk through ONNX Runtime.
//
// The GAN loss a member is trained with is not here: search/loss.go (token
// members) and search/text.go (text members, through TrainStep) hold it.
package discriminator
