// Package nn holds the shared numerics of promptgan's networks: named parameter
// sets, float32 matrix multiply (OpenBLAS when built with the openblas tag, pure
// Go otherwise), the layers both networks use (embedding lookup, LSTM), an Adam
// optimiser whose state can be saved, seeded RNG streams whose state can be
// saved, and a finite-difference gradient checker.
//
// Conventions: matrices are row-major []float32; a layer's Forward returns a
// cache that its Backward consumes; Backward adds into the parameters' G
// slices (callers zero them with Params.ZeroGrad before a step). Time-major
// sequence buffers are laid out (T, B, D): element (t, b, d) is at
// (t*B+b)*D + d.
package nn
