// Package task loads promptgan's training data: text tasks (JSONL
// {"input", "good", "bad"} or input-free {"text", "label"}, see ParseText),
// their seeded train/validation/test splits, the template that joins prompt
// and input for the target, and the built-in sentiment task; and token-id
// sequence sets (the SeqGAN format: space-separated ids a line, or JSONL
// {"ids": [...]}). Every malformed line is reported as file:line: what is
// wrong.
package task
