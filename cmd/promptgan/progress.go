package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"promptgan/search"
)

// newProgress returns a progress bar when stderr is a terminal, and periodic
// log lines otherwise (CI logs, pipes, files).
func newProgress(w io.Writer, logger *slog.Logger) search.Progress {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &barProgress{w: w}
	}
	return &logProgress{log: logger, every: 15 * time.Second}
}

type barProgress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func (p *barProgress) Update(s search.Stats, total int) {
	if p.bar == nil {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionShowCount(),
			progressbar.OptionSetItsString("steps"),
			progressbar.OptionShowIts(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
		)
		p.bar.Set(s.Step - 1)
	}
	desc := s.Phase
	if v, ok := s.Values["loss_g"]; ok {
		desc += fmt.Sprintf(" loss_g %.3f", v)
	}
	if v, ok := s.Values["d_fake"]; ok {
		desc += fmt.Sprintf(" D(fake) %.2f", v)
	}
	p.bar.Describe(desc)
	p.bar.Set(s.Step)
}

func (p *barProgress) Finish() {
	if p.bar != nil {
		p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}

type logProgress struct {
	log   *slog.Logger
	every time.Duration
	last  time.Time
	start time.Time
	from  int
}

func (p *logProgress) Update(s search.Stats, total int) {
	now := time.Now()
	if p.start.IsZero() {
		p.start, p.last, p.from = now, now, s.Step-1
	}
	if now.Sub(p.last) < p.every && s.Step != total {
		return
	}
	p.last = now
	rate := float64(s.Step-p.from) / now.Sub(p.start).Seconds()
	args := []any{"step", s.Step, "of", total, "phase", s.Phase, "steps_per_s", fmt.Sprintf("%.1f", rate)}
	for _, k := range []string{"loss_g", "loss_d", "d_real", "d_fake", "reward"} {
		if v, ok := s.Values[k]; ok {
			args = append(args, k, fmt.Sprintf("%.4f", v))
		}
	}
	p.log.Info("progress", args...)
}
