package search

// RNG stream numbers of a run, all in one place: each stream is
// independent for one seed (nn.NewRNG(seed, stream)), so a draw from one
// never moves another, and a checkpoint stores the two that advance
// (sample, seeds); the others are functions of (seed, step or epoch).
const (
	streamInitG     = 1       // G's initial weights
	streamInitD     = 2       // D's initial weights (token or text)
	streamSample    = 3       // every training-time draw of G and the replay picks
	streamSeeds     = 4       // the seeds of target requests
	streamEval      = 1 << 20 // + step: evaluation draws never disturb training
	streamDataPerm  = 1 << 40 // + epoch: the order of train is a function of (seed, epoch)
	streamPriorPerm = 1 << 41 // + epoch: the same for a separate prior

	// text runs
	streamTextGood   = 1 << 42 // + epoch: the order of the train split's good items
	streamTextBad    = 1 << 43 // + epoch: of its bad items
	streamTextInputs = 1 << 44 // + epoch: of its inputs (tasks with inputs)
	streamTextFit    = 1 << 45 // D's fit on the labelled train split (XORed into the seed)

	// scoring and search outside training, with the caller's seed
	streamScore = 1 << 46 // the seeds of scoring requests; + 1: SearchPrompts' draws of G
)
