package search

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// ConsoleOptions returns the Progress and Logger of a run reported on w: a
// progress bar when w is a terminal, and periodic log lines otherwise (CI
// logs, pipes, files); with quiet, neither and no log lines. finish ends the
// bar once the run returns.
func ConsoleOptions(w io.Writer, quiet bool) (opt RunOptions, finish func()) {
	logOut, finish := w, func() {}
	switch f, ok := w.(*os.File); {
	case quiet:
		logOut = io.Discard
	case ok && term.IsTerminal(int(f.Fd())):
		// Log lines clear the bar's line first, so that they and the bar
		// do not run into each other.
		p := &barProgress{w: w}
		opt.Progress, logOut, finish = p, p, p.Finish
	default:
		opt.Progress = &logProgress{log: slog.New(slog.NewTextHandler(w, nil)), every: 15 * time.Second}
	}
	opt.Logger = slog.New(slog.NewTextHandler(logOut, nil))
	return opt, finish
}

type barProgress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func (p *barProgress) Update(s Stats, total int) {
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

// Write clears the bar's line and writes b (a log line) in its place; the
// bar is drawn again at the next step.
func (p *barProgress) Write(b []byte) (int, error) {
	fmt.Fprint(p.w, "\r\033[K")
	return p.w.Write(b)
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

func (p *logProgress) Update(s Stats, total int) {
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
