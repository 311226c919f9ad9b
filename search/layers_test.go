package search

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestImportLayers checks the arrows of DESIGN.md: no package (tests
// included) imports one of a higher layer or, within a layer, one the rules
// below forbid.
func TestImportLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,TestImports,XTestImports", "promptgan/...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	// layer of a package by path prefix; the longest prefix wins
	layers := map[string]int{
		"promptgan/cmd":                                 5,
		"promptgan/benchmarks":                          4,
		"promptgan/serve":                               4, // serves targets and a run's scoring (search) over HTTP
		"promptgan/search":                              3,
		"promptgan/audit":                               3, // judges targets' generations; beside search, never under it
		"promptgan/english":                             2, // the English corpus and LMs (generator networks)
		"promptgan/search/rank":                         2,
		"promptgan/generator":                           2,
		"promptgan/generator/onnxexport":                2,
		"promptgan/discriminator":                       2,
		"promptgan/targets":                             2,
		"promptgan/targets/lstm":                        2,
		"promptgan/targets/onnx":                        1,
		"promptgan/targets/ledger":                      1,
		"promptgan/targets/backend":                     0,
		"promptgan/task":                                1,
		"promptgan/embeddings":                          1,
		"promptgan/metrics":                             1,
		"promptgan/checkpoints":                         1,
		"promptgan/internal":                            0,
		"promptgan/internal/ort/export":                 0,
		"promptgan/internal/ort/orttest":                0,
		"promptgan/benchmarks/decode-throughput/export": 4,
	}
	layer := func(p string) int {
		best, l := "", -1
		for prefix, v := range layers {
			if (p == prefix || strings.HasPrefix(p, prefix+"/")) && len(prefix) > len(best) {
				best, l = prefix, v
			}
		}
		return l
	}
	forbidden := [][2]string{
		{"promptgan/generator", "promptgan/discriminator"},
		{"promptgan/discriminator", "promptgan/generator"},
		{"promptgan/internal/ort/export", "promptgan/generator"},
		// the text encoders are no targets: what both need (file hashes)
		// lives in internal/
		{"promptgan/embeddings", "promptgan/targets"},
		// search opens every target through targets.Open, never a backend
		{"promptgan/search", "promptgan/targets/openai"},
		{"promptgan/search", "promptgan/targets/onnx"},
	}
	// Known exceptions, external test packages only: targets/onnx's
	// agreement tests build their fixture model by exporting a generator
	// network (generator/onnxexport, above it). Moving those tests into
	// generator/onnxexport would remove this.
	xtestOK := map[[2]string]bool{
		{"promptgan/targets/onnx", "promptgan/generator"}:            true,
		{"promptgan/targets/onnx", "promptgan/generator/onnxexport"}: true,
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath                         string
			Imports, TestImports, XTestImports []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		from := layer(p.ImportPath)
		if from < 0 {
			t.Errorf("%s has no layer in this test: add it", p.ImportPath)
			continue
		}
		for i, imp := range append(append(p.Imports, p.TestImports...), p.XTestImports...) {
			if !strings.HasPrefix(imp, "promptgan/") || imp == p.ImportPath {
				continue
			}
			if i >= len(p.Imports)+len(p.TestImports) && xtestOK[[2]string{p.ImportPath, imp}] {
				continue
			}
			if to := layer(imp); to > from {
				t.Errorf("%s (layer %d) imports %s (layer %d), a layer above it", p.ImportPath, from, imp, to)
			}
			for _, f := range forbidden {
				if strings.HasPrefix(p.ImportPath, f[0]) && p.ImportPath != "promptgan/generator/onnxexport" && strings.HasPrefix(imp, f[1]) {
					t.Errorf("%s imports %s: %s never imports %s", p.ImportPath, imp, f[0], f[1])
				}
			}
		}
	}
}
