package search_test

import (
	"fmt"
	"math"

	"promptgan/search"
)

func ExampleConfig_Validate() {
	cfg, _ := search.Preset("quick")
	cfg.BatchSize = 1
	fmt.Println(cfg.Validate())
	// Output: batch_size = 1: need at least 2 prompts per batch (baselines and normalisation need a spread)
}

func ExampleNonSaturatingRewards() {
	fmt.Printf("non-saturating reward of a fake judged 50/50: %.4f\n", search.NonSaturatingRewards([]float32{0})[0])
	fmt.Println(math.Abs(search.NonSaturatingRewards([]float32{0})[0]+math.Ln2) < 1e-12)
	// Output:
	// non-saturating reward of a fake judged 50/50: -0.6931
	// true
}
