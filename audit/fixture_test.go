package audit

import (
	"fmt"
	"strings"

	"promptgan/internal/nn"
)

// fixtureVocab is each fixture class's own words; every class shares the
// sentence frames and function words of fixtureFrames, so the classes differ
// in content words only, as the corpus's topics do.
var fixtureVocab = map[string][3][]string{ // nouns, adjectives, verbs
	"positive":    {{"phone", "service", "food", "movie", "battery"}, {"great", "excellent", "wonderful", "lovely", "perfect"}, {"loved", "enjoyed", "recommend", "liked", "adore"}},
	"negative":    {{"phone", "service", "food", "movie", "battery"}, {"awful", "terrible", "horrible", "broken", "rude"}, {"hated", "returned", "regret", "disliked", "avoid"}},
	"definitions": {{"atom", "theory", "experiment", "physicist", "universe"}, {"empirical", "quantum", "precise", "natural", "measurable"}, {"measured", "observed", "proved", "tested", "discovered"}},
	"computers":   {{"computer", "program", "bug", "compiler", "software"}, {"binary", "digital", "buggy", "fast", "compiled"}, {"crashed", "debugged", "compiled", "booted", "hacked"}},
	"love":        {{"senator", "vote", "government", "election", "party"}, {"political", "elected", "corrupt", "liberal", "public"}, {"voted", "governed", "campaigned", "promised", "taxed"}},
}

var fixtureFrames = []string{
	"the %[2]s %[1]s was %[3]s by me",
	"i %[3]s the %[2]s %[1]s",
	"a %[1]s is %[2]s and i %[3]s it",
	"my %[1]s was %[2]s so we %[3]s it",
	"they %[3]s a %[2]s %[1]s today",
}

// fixtureCorpus returns perClass texts of each fixture class in each part
// (target, disc, audit, test), drawn with a seeded stream.
func fixtureCorpus(perClass int, seed uint64) []Doc {
	rng := nn.NewRNG(seed, 0)
	var docs []Doc
	classes := []string{"computers", "negative", "love", "positive", "definitions"}
	for _, part := range []string{PartTarget, PartDisc, PartAudit, PartTest} {
		for _, c := range classes {
			v := fixtureVocab[c]
			for range perClass {
				frame := fixtureFrames[rng.IntN(len(fixtureFrames))]
				text := fmt.Sprintf(frame, v[0][rng.IntN(5)], v[1][rng.IntN(5)], v[2][rng.IntN(5)])
				docs = append(docs, Doc{Text: text, Class: c, Part: part, Source: "fixture/" + c})
			}
		}
	}
	return docs
}

// partTexts returns the texts of docs' part (of class, when given).
func partTexts(docs []Doc, part, class string) []string {
	var out []string
	for _, d := range docs {
		if d.Part == part && (class == "" || d.Class == class) {
			out = append(out, d.Text)
		}
	}
	return out
}

var _ = strings.Join
