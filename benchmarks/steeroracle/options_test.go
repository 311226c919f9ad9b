package steeroracle

import (
	"strings"
	"testing"

	"promptgan/discriminator"
)

func TestValidateDKindAndContinuations(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Options)
		want string // "" = valid
	}{
		{"defaults", func(*Options) {}, ""},
		{"lstm", func(o *Options) { o.Steer.Discriminator.Kind = DKind("lstm") }, ""},
		{"linear", func(o *Options) { o.Steer.Discriminator.Kind = DKind("linear") }, ""},
		{"unknown kind", func(o *Options) { o.Steer.Discriminator.Kind = DKind("gru") }, `--d-kind "gru": want lstm or linear`},
		{"no continuations", func(o *Options) { o.Steer.ContinuationsPerPrompt = 0 }, "--continuations 0: must be >= 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions(1)
			tc.set(&o)
			err := o.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
	if DKind(discriminator.KindLSTM) != "" || DKindName(DKind(discriminator.KindLinear)) != discriminator.KindLinear {
		t.Error("DKind is not DKindName's inverse")
	}
}
