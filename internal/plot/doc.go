// Package plot draws a run's metrics as PNG files.
//
// [Run] turns the records of a run's metrics.jsonl (read by package
// promptgan/metrics, passed here as plain [Record]s: this package sits
// below metrics and imports nothing of promptgan) into line charts against
// the global step, using gonum.org/v1/plot.
package plot
