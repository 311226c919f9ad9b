// Package task loads promptgan's training data. This version reads token-id
// sequence sets (the SeqGAN benchmark format: one sequence a line, token ids
// separated by spaces; or JSONL lines {"ids": [...]}) and reports every
// malformed line as file:line: what is wrong. The text task formats of
// DESIGN.md ({"input", "good", "bad"} and {"text", "label"}) are not read yet.
package task
