// Package plot draws a run's metrics as PNG files.
//
// [Run] turns the records of a run's metrics.jsonl (see package
// promptgan/metrics) into line charts against the global step, using
// gonum.org/v1/plot.
package plot
