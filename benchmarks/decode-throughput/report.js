#!/usr/bin/env node
// Prints the table of a compare.sh run: for each model and batch size, the
// median tokens/s of the Go and of the Node rounds, the median and range of
// the per-round ratios Go/Node (each from two adjacent runs, so less exposed
// to a shared machine's load changing between rounds than the ratio of the
// medians), and whether the two sides' tokens were identical in every round.
//
// Usage: node report.js RUNS_DIR   (RUNS_DIR/<model>/{go,node}-r<N>.{json,tokens})
'use strict';

const fs = require('fs');
const path = require('path');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// linesOf returns a tokens file's lines for batch size b.
const linesOf = (file, b) =>
  fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith(`batch ${b} `)).join('\n');

function main() {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: node report.js RUNS_DIR');
  const rows = [];
  for (const model of fs.readdirSync(dir).sort()) {
    const d = path.join(dir, model);
    const rounds = fs.readdirSync(d).filter((f) => /^go-r\d+\.json$/.test(f)).map((f) => f.match(/\d+/)[0]);
    if (rounds.length === 0) continue;
    const load = (side, r) => JSON.parse(fs.readFileSync(path.join(d, `${side}-r${r}.json`), 'utf8'));
    const first = load('go', rounds[0]);
    for (const { batch } of first.rows) {
      const fig = (side) => rounds.map((r) => load(side, r).rows.find((x) => x.batch === batch).tokens_per_s);
      const go = fig('go');
      const node = fig('node');
      const ratios = go.map((g, i) => g / node[i]);
      const same = rounds.every((r) => linesOf(path.join(d, `go-r${r}.tokens`), batch) === linesOf(path.join(d, `node-r${r}.tokens`), batch));
      rows.push([model, first.kind, batch, median(go).toFixed(0), median(node).toFixed(0),
        median(ratios).toFixed(2), `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`, same ? 'yes' : 'NO']);
    }
  }
  const head = ['model', 'kind', 'batch', 'Go tokens/s (median)', 'Node tokens/s (median)', 'Go/Node (median of rounds)', 'Go/Node range', 'tokens identical'];
  console.log(`| ${head.join(' | ')} |`);
  console.log(`| ${head.map(() => '---').join(' | ')} |`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}

try {
  main();
} catch (err) {
  console.error(`report.js: ${err.message}`);
  process.exit(1);
}
