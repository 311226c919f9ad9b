package onnx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadDefaults(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    Defaults // From not compared
		wantErr string
	}{
		{"none", nil, Defaults{}, ""},
		{"hugging face fields", map[string]string{GenerationConfigFile: `{"eos_token_id": 2, "temperature": 0.7, "top_p": 0.9, "max_new_tokens": 40}`},
			Defaults{Temperature: 0.7, TopP: 0.9, MaxNewTokens: 40}, ""},
		{"greedy", map[string]string{GenerationConfigFile: `{"do_sample": false, "temperature": 0.7, "max_new_tokens": 40}`}, Defaults{MaxNewTokens: 40}, ""},
		{"prompt format", map[string]string{PromptFormatFile: `{"template": "{prompt} =>"}`}, Defaults{Template: "{prompt} =>"}, ""},
		{"nulls", map[string]string{GenerationConfigFile: `{"temperature": null, "top_p": null}`}, Defaults{}, ""},
		{"temperature 0", map[string]string{GenerationConfigFile: `{"temperature": 0}`}, Defaults{}, "generation_config.json: field temperature: want a number in (0, 10], got 0"},
		{"top_p as text", map[string]string{GenerationConfigFile: `{"top_p": "0.9"}`}, Defaults{}, `field top_p: want a number in (0, 1], got "0.9"`},
		{"max_new_tokens 0", map[string]string{GenerationConfigFile: `{"max_new_tokens": 0}`}, Defaults{}, "field max_new_tokens: 0 is not a valid size"},
		{"template without prompt", map[string]string{PromptFormatFile: `{"template": "=>"}`}, Defaults{}, `promptgan.json: field template: "=>" has no {prompt}`},
		{"not json", map[string]string{PromptFormatFile: `template: x`}, Defaults{}, "promptgan.json: not a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ReadDefaults(dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Temperature != tc.want.Temperature || got.TopP != tc.want.TopP || got.MaxNewTokens != tc.want.MaxNewTokens || got.Template != tc.want.Template {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			for key, set := range map[string]bool{"temperature": got.Temperature > 0, "top_p": got.TopP > 0, "max_new_tokens": got.MaxNewTokens > 0, "template": got.Template != ""} {
				if _, ok := got.From[key]; ok != set {
					t.Errorf("From[%s] given %v, the setting %v", key, ok, set)
				}
			}
		})
	}
}
