package english

import (
	"crypto/sha256"
	"slices"
	"strings"
)

// Separator ends every instruction in the target LM's training documents
// ("<instruction> => <text> <eos>"): the model writes text of the kind the
// instruction describes after it. It is a token of its own in the
// vocabulary, and texts that contain it are left out of the LM's training.
const Separator = "=>"

// PromptTemplate is the task template (task/template.go syntax) a run uses
// against the target LM: the prompt, then the separator, so that the
// prompt is read as an instruction and the continuation is the text.
const PromptTemplate = "{prompt} " + Separator

// Temperature is the target LM's sampling temperature in runs and
// benchmarks: at 1 a small LM's samples wander off the topic and out of
// English; lower keeps them closer to what the prompt asked for.
const Temperature = 0.7

// class descriptions: kinds of text × what they are about, and personas
// whose words the class holds. Instructions are built from them with the
// templates below, a few hundred distinct per class.
type classWords struct {
	kinds    []string // "quote", "review", …
	subjects []string // "about science", "of a phone", … ("" = none)
	personas []string // "a physicist", …
	names    []string // the class named plainly ("science", "positive reviews")
}

var words = map[string]classWords{
	ClassPositive: {
		kinds: []string{"glowing review", "positive review", "good review", "rave review", "five star review", "happy review",
			"enthusiastic review", "favorable review", "compliment", "happy customer comment", "satisfied customer review", "warm recommendation"},
		subjects: []string{"", "of a product", "of a movie", "of a restaurant", "of a phone", "of a film", "about the food", "about a gadget", "of a headset", "about the service"},
		personas: []string{"a happy customer", "a satisfied buyer", "a delighted diner", "a film fan who loved it", "someone who loves the product", "an enthusiastic reviewer"},
		names:    []string{"positive reviews", "praise", "good reviews", "happy reviews"},
	},
	ClassNegative: {
		kinds: []string{"angry customer complaint", "negative review", "bad review", "one star review", "scathing review", "disappointed review",
			"harsh review", "unfavorable review", "complaint", "angry comment", "unhappy customer review", "warning to other buyers"},
		subjects: []string{"", "of a product", "of a movie", "of a restaurant", "of a phone", "of a film", "about the food", "about a gadget", "of a headset", "about the service"},
		personas: []string{"an angry customer", "a disappointed buyer", "an unhappy diner", "a film critic who hated it", "someone who wants a refund", "a furious reviewer"},
		names:    []string{"negative reviews", "complaints", "bad reviews", "angry reviews"},
	},
	"science": {
		kinds:    []string{"quote", "saying", "remark", "joke", "thought", "line", "witticism", "quip"},
		subjects: []string{"about science", "on science", "about physics", "about scientists", "about mathematics", "about experiments", "about research", "about chemistry", "about the universe", "about theories"},
		personas: []string{"a physicist", "a scientist", "a mathematician", "a chemist", "a researcher", "an astronomer", "a professor of physics"},
		names:    []string{"science", "the science quotes", "science quotes", "physics"},
	},
	"computers": {
		kinds:    []string{"quote", "saying", "remark", "joke", "thought", "line", "witticism", "quip"},
		subjects: []string{"about computers", "on computing", "about programming", "about programmers", "about software", "about hackers", "about bugs", "about machines", "about hardware", "about the computer"},
		personas: []string{"a programmer", "a hacker", "a computer scientist", "a system administrator", "a software engineer", "a computer user", "an old unix hacker"},
		names:    []string{"computers", "the computer quotes", "computer quotes", "programming"},
	},
	"politics": {
		kinds:    []string{"quote", "saying", "remark", "joke", "thought", "line", "witticism", "quip"},
		subjects: []string{"about politics", "on politics", "about politicians", "about government", "about democracy", "about the state", "about voters", "about power", "about congress", "about freedom"},
		personas: []string{"a politician", "a senator", "a president", "a statesman", "a voter", "a political writer", "a congressman"},
		names:    []string{"politics", "the politics quotes", "political quotes", "government"},
	},
	"work": {
		kinds:    []string{"quote", "saying", "remark", "joke", "thought", "line", "witticism", "quip"},
		subjects: []string{"about work", "on work", "about jobs", "about the office", "about bosses", "about working", "about meetings", "about employees", "about the workplace", "about labor"},
		personas: []string{"a manager", "an employee", "a boss", "an office worker", "a tired worker", "a consultant", "a secretary"},
		names:    []string{"work", "the work quotes", "quotes about work", "jobs"},
	},
	"zippy": {
		kinds:    []string{"quote", "saying", "remark", "non sequitur", "thought", "line", "outburst", "exclamation"},
		subjects: []string{"from zippy the pinhead", "from a comic strip", "that makes no sense", "about pinheads", "about being confused", "about television", "about suburbia", "about snack food", "about polyester"},
		personas: []string{"zippy the pinhead", "a pinhead", "a cartoon character", "a confused clown", "someone having an existential crisis", "griffy", "a surreal comic"},
		names:    []string{"zippy", "the zippy quotes", "zippy quotes", "yow"},
	},
	"songs": {
		kinds:    []string{"song lyric", "poem", "verse", "rhyme", "couplet", "line of a song", "stanza", "ballad"},
		subjects: []string{"", "about the sea", "about the night", "about a lost love", "about the road", "about spring", "about dreams", "about the wind", "about home", "about a girl"},
		personas: []string{"a poet", "a songwriter", "a folk singer", "a bard", "a rock star", "a troubadour", "a balladeer"},
		names:    []string{"songs", "poems", "the songs and poems", "poetry"},
	},
	"startrek": {
		kinds:    []string{"quote", "line", "remark", "saying", "log entry", "order", "line of dialogue", "comment"},
		subjects: []string{"from star trek", "about the enterprise", "about starships", "about the captain", "about vulcans", "about space", "about klingons", "about the federation", "about logic", "about the crew"},
		personas: []string{"captain kirk", "mister spock", "doctor mccoy", "a starship captain", "a vulcan", "a starfleet officer", "scotty"},
		names:    []string{"star trek", "the star trek quotes", "startrek", "trek quotes"},
	},
	"food": {
		kinds:    []string{"quote", "saying", "remark", "joke", "thought", "line", "witticism", "quip"},
		subjects: []string{"about food", "on food", "about eating", "about cooking", "about drinking", "about wine", "about dinner", "about diets", "about drugs", "about coffee"},
		personas: []string{"a cook", "a chef", "a gourmet", "a hungry man", "a drinker", "a waiter", "someone on a diet"},
		names:    []string{"food", "the food quotes", "food and drink", "eating"},
	},
	"definitions": {
		kinds:    []string{"definition", "dictionary entry", "humorous definition", "cynical definition", "glossary entry", "meaning of a word", "satirical definition", "entry in a dictionary"},
		subjects: []string{"", "of a word", "of a noun", "of a verb", "of a term", "from a devil's dictionary", "of a common word", "of an adjective", "of a saying", "of a law"},
		personas: []string{"a cynical lexicographer", "a dictionary writer", "a satirist defining words", "ambrose bierce", "a glossary", "an editor of dictionaries", "a word expert"},
		names:    []string{"definitions", "the definitions", "a dictionary", "define"},
	},
	"art": {
		kinds:    []string{"quote", "saying", "remark", "joke", "thought", "line", "witticism", "quip"},
		subjects: []string{"about art", "on art", "about artists", "about music", "about painting", "about writers", "about books", "about the theater", "about critics", "about beauty"},
		personas: []string{"an artist", "a painter", "a writer", "a musician", "a critic", "a novelist", "an actor"},
		names:    []string{"art", "the art quotes", "quotes about art", "the arts"},
	},
	"education": {
		kinds:    []string{"quote", "saying", "remark", "joke", "thought", "line", "witticism", "quip"},
		subjects: []string{"about education", "on education", "about school", "about teachers", "about students", "about kids", "about children", "about learning", "about college", "about exams"},
		personas: []string{"a teacher", "a student", "a professor", "a child", "a parent", "a school principal", "a schoolboy"},
		names:    []string{"education", "the education quotes", "school", "kids"},
	},
	"love": {
		kinds:    []string{"quote", "saying", "remark", "joke", "thought", "line", "witticism", "quip"},
		subjects: []string{"about love", "on love", "about romance", "about men and women", "about marriage", "about dating", "about women", "about men", "about lovers", "about the heart"},
		personas: []string{"a lover", "a romantic", "a married man", "a married woman", "a poet in love", "a husband", "a wife"},
		names:    []string{"love", "the love quotes", "love quotes", "romance"},
	},
}

// kindTemplates turn a kind (+ subject) into an instruction; {k} is the
// kind with its subject, {a} its article.
var kindTemplates = []string{
	"{a} {k}", "write {a} {k}", "give me {a} {k}", "tell me {a} {k}", "here is {a} {k}", "i want {a} {k}",
	"please write {a} {k}", "generate {a} {k}", "share {a} {k}", "{k} please", "compose {a} {k}", "produce {a} {k}",
}

// personaTemplates turn a persona into an instruction.
var personaTemplates = []string{
	"something {p} would say", "what {p} might say", "speak like {p}", "the words of {p}", "write as {p}",
	"you are {p} . say something", "in the voice of {p}",
}

// nameTemplates turn a class's plain name into an instruction.
var nameTemplates = []string{"write like the {n}", "{n}", "more {n}", "something on {n}", "topic : {n}"}

// Vague are instructions that describe no class: documents of every class
// get them, so the model learns that they say little.
var Vague = []string{
	"a quote", "say something", "write something", "a sentence", "tell me something", "go on", "anything",
	"write a line", "give me a sentence", "something short", "surprise me", "one more", "a saying", "a comment",
	"another one", "continue", "text", "write", "please", "here you go",
}

func article(s string) string {
	if strings.IndexAny(s[:1], "aeiou") == 0 {
		return "an"
	}
	return "a"
}

// Instructions returns the class's instructions, sorted and distinct,
// split by a hash into those the target LM trains with (~90%) and those it
// never sees (~10%, for measuring steerability on unseen wording). It
// returns nil, nil for an unknown class.
func Instructions(class string) (train, heldOut []string) {
	w, ok := words[class]
	if !ok {
		return nil, nil
	}
	set := map[string]bool{}
	for _, k := range w.kinds {
		for _, s := range w.subjects {
			ks := strings.TrimSpace(k + " " + s)
			for _, t := range kindTemplates {
				set[strings.NewReplacer("{a}", article(ks), "{k}", ks).Replace(t)] = true
			}
		}
	}
	for _, p := range w.personas {
		for _, t := range personaTemplates {
			set[strings.ReplaceAll(t, "{p}", p)] = true
		}
	}
	for _, n := range w.names {
		for _, t := range nameTemplates {
			set[strings.ReplaceAll(t, "{n}", n)] = true
		}
	}
	all := make([]string, 0, len(set))
	for s := range set {
		all = append(all, s)
	}
	slices.Sort(all)
	for _, s := range all {
		if h := sha256.Sum256([]byte("instruction:" + s)); h[0] < 26 { // 26/256 ≈ 10%
			heldOut = append(heldOut, s)
		} else {
			train = append(train, s)
		}
	}
	return train, heldOut
}

// ExamplePrompts are instructions of every class that the target LMs never
// train with (the held-out ~10% of Instructions), sorted: a prior over how
// instructions to this target read that favours no task — G pre-trained on
// them writes instruction-like prompts, and the search must still find the
// ones that steer to its task.
func ExamplePrompts() []string {
	var out []string
	for class := range words {
		_, held := Instructions(class)
		out = append(out, held...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Names returns the plain names of a class ("science", "the science
// quotes", "positive reviews", …), the hand-written seed prompts a task
// starts from; nil for an unknown class. Each is also the core of training
// instructions ("write like the science quotes"), so all their words are
// in the LMs' vocabulary.
func Names(class string) []string {
	return slices.Clone(words[class].names)
}
