#!/usr/bin/env bash
# Fetches the built-in sentiment task: the UCI Sentiment Labelled Sentences
# (Kotzias et al. 2015, CC BY 4.0; 1,000 sentences each from Amazon, IMDb and
# Yelp reviews) as shipped in the test fixtures of the npm package
# sentiment@5.0.2, without running its install scripts and without installing
# anything. Writes .cache/data/sentiment.jsonl in promptgan's input-free task
# format ({"text": ..., "label": "good"|"bad"}, positive = good), byte for
# byte the same on every machine, and .cache/data/sentiment.README with the
# source, licence and citation. Instant when already present.
set -u
cd "$(dirname "$0")/.."
version=5.0.2
dest=.cache/data
out=$dest/sentiment.jsonl
readme=$dest/sentiment.README
if [ -s "$out" ] && [ -s "$readme" ]; then
  echo "setup: sentiment task already in $out"
  exit 0
fi
for tool in npm node; do
  command -v "$tool" >/dev/null 2>&1 || { echo "setup: $tool is not installed; cannot fetch the sentiment task (install Node.js with npm, or use your own task file with --task)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && npm pack --loglevel=error --ignore-scripts "sentiment@$version" >pack.log 2>&1); then
  echo "setup: npm pack sentiment@$version failed:" >&2
  sed 's/^/  /' "$tmp/pack.log" >&2
  exit 1
fi
tgz=$(ls "$tmp"/sentiment-*.tgz 2>/dev/null | head -n 1)
[ -n "$tgz" ] || { echo "setup: npm pack left no sentiment-*.tgz in $tmp" >&2; exit 1; }
members="package/test/fixtures/amazon.json package/test/fixtures/imdb.json package/test/fixtures/yelp.json"
# shellcheck disable=SC2086 # members is a list of paths without spaces
if ! tar -xzf "$tgz" -C "$tmp" $members; then
  echo "setup: $tgz lacks one of $members" >&2
  exit 1
fi
# Each fixture is [{"text": ..., "class": 0|1}, ...] ending in one empty
# record {"text": "", "class": null}, which is dropped; any other record that
# is not a non-empty text with class 0 or 1 stops the conversion, so a
# changed package cannot slip a different data set in. JSON.stringify writes
# the same bytes for the same input on every machine.
if ! node - "$tmp/sentiment.jsonl" "$tmp/package/test/fixtures" >"$tmp/convert.log" 2>&1 <<'JS'
const fs = require("fs");
const [out, dir] = process.argv.slice(2);
const lines = [];
for (const name of ["amazon", "imdb", "yelp"]) {
  const file = `${dir}/${name}.json`;
  const records = JSON.parse(fs.readFileSync(file, "utf8"));
  if (!Array.isArray(records)) throw new Error(`${file}: not a JSON array`);
  records.forEach((r, i) => {
    const text = typeof r.text === "string" ? r.text.trim() : null;
    if (text === "" && r.class === null && i === records.length - 1) return;
    if (!text || (r.class !== 0 && r.class !== 1)) {
      throw new Error(`${file}: record ${i} is ${JSON.stringify(r)}, want {"text": non-empty, "class": 0 or 1}`);
    }
    lines.push(JSON.stringify({ text, label: r.class === 1 ? "good" : "bad" }));
  });
}
fs.writeFileSync(out, lines.join("\n") + "\n");
JS
then
  echo "setup: converting the sentiment fixtures failed:" >&2
  sed 's/^/  /' "$tmp/convert.log" >&2
  exit 1
fi
cat >"$tmp/sentiment.README" <<TXT
sentiment.jsonl: promptgan's built-in task "sentiment" (input-free; good = positive).

Source: UCI Machine Learning Repository, "Sentiment Labelled Sentences"
(https://archive.ics.uci.edu/dataset/331), 1,000 sentences each from
amazon.com, imdb.com and yelp.com reviews, 500 positive and 500 negative in
each, as shipped in the test fixtures of the npm package sentiment@$version
(package/test/fixtures/{amazon,imdb,yelp}.json). Converted by
scripts/setup-sentiment.sh: file order amazon, imdb, yelp; class 1 -> "good",
class 0 -> "bad"; text trimmed; the empty trailing record of each file dropped.

Licence: Creative Commons Attribution 4.0 International (CC BY 4.0),
https://creativecommons.org/licenses/by/4.0/

Citation: Dimitrios Kotzias, Misha Denil, Nando de Freitas and Padhraic Smyth,
"From Group to Individual Labels Using Deep Features", Proceedings of the 21th
ACM SIGKDD International Conference on Knowledge Discovery and Data Mining
(KDD 2015), pages 597-606. https://doi.org/10.1145/2783258.2783380
TXT
mkdir -p "$dest"
# Copy under temporary names and rename, so an interrupted run never leaves a
# half-written file that the next run would take for a finished one. The
# README goes last: the check above wants both.
cp "$tmp/sentiment.jsonl" "$out.part" && mv "$out.part" "$out" || exit 1
cp "$tmp/sentiment.README" "$readme.part" && mv "$readme.part" "$readme" || exit 1
echo "setup: sentiment task ($(wc -l <"$out") sentences) ready in $out"
