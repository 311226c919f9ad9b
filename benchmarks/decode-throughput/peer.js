#!/usr/bin/env node
// The Node.js peer of `promptgan bench decode`: runs the same model.onnx with
// onnxruntime-node 1.24.1 (the same libonnxruntime.so.1 the Go side loads)
// and decodes exactly the task the Go side wrote with --prompts-out: the
// same contexts, batch sizes, new-token count, stop tokens and intra-op
// thread count, greedily (arg-max, ties to the smaller id), feeding the
// model as targets/onnx does:
//
//   kv-cache    first call: the contexts with empty past_key_values.*;
//               then one token per row per call, present.* fed back as
//               past_key_values.*, attention_mask grown by one, position_ids
//               = tokens before the new one
//   lstm-state  first call: the contexts from the zero state; then one token
//               per row per call, present_state.h/.c fed back as past_state.h/.c
//   plain       every call feeds the whole sequence again
//
// Rows that end (a stop token, dropped; or the last new token) leave the
// batch, and their cache rows are dropped. All contexts of a batch have the
// same length (the Go side draws them so), so no padding is needed.
//
// Usage: node peer.js --task TASK.json [--tokens-out FILE]
// Prints JSON: {runtime, node, threads, rows: [{batch, steps, new_tokens,
// seconds, tokens_per_s, ms_per_step}]}. Install onnxruntime-node with
// scripts/setup-node-peer.sh and run with NODE_PATH=.cache/node-peer/node_modules.
'use strict';

const fs = require('fs');
const ort = require('onnxruntime-node');

function parseArgs(argv) {
  const args = { task: '', tokensOut: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--task' && i + 1 < argv.length) args.task = argv[++i];
    else if (a === '--tokens-out' && i + 1 < argv.length) args.tokensOut = argv[++i];
    else throw new Error(`peer.js: unknown or incomplete argument ${JSON.stringify(a)}; usage: node peer.js --task TASK.json [--tokens-out FILE]`);
  }
  if (!args.task) throw new Error('peer.js: --task TASK.json is required (written by `promptgan bench decode --prompts-out`)');
  return args;
}

// dims returns the past/state dimensions the model declares, reading a
// dynamic one from config.json the way targets/onnx does.
function dims(session, task, kind) {
  const meta = new Map(session.inputMetadata.map((m) => [m.name, m]));
  const cfg = JSON.parse(fs.readFileSync(task.config, 'utf8'));
  const first = (...keys) => {
    for (const k of keys) if (Number.isInteger(cfg[k])) return cfg[k];
    return undefined;
  };
  const fixed = (name, d) => {
    const m = meta.get(name);
    return m && m.isTensor && Number.isInteger(m.shape[d]) ? m.shape[d] : undefined;
  };
  if (kind === 'kv-cache') {
    const attnHeads = first('num_attention_heads', 'n_head');
    const heads = fixed('past_key_values.0.key', 1) ?? first('num_key_value_heads') ?? attnHeads;
    const hidden = first('hidden_size', 'n_embd');
    const headDim = fixed('past_key_values.0.key', 3) ?? first('head_dim') ?? (hidden && attnHeads ? hidden / attnHeads : undefined);
    if (!heads || !headDim) throw new Error(`${task.model}: cannot tell the KV heads and head width from the model or ${task.config}`);
    let layers = 0;
    while (meta.has(`past_key_values.${layers}.key`)) layers++;
    return { heads, headDim, layers };
  }
  if (kind === 'lstm-state') {
    const hidden = fixed('past_state.h', 1) ?? first('hidden_size');
    if (!hidden) throw new Error(`${task.model}: cannot tell the state width from the model or ${task.config}`);
    return { hidden };
  }
  return {};
}

// detectKind classifies the model from its input names, as targets/onnx does.
function detectKind(names) {
  if (names.some((n) => /^past_key_values\.\d+\.(key|value)$/.test(n))) return 'kv-cache';
  if (names.includes('past_state.h')) return 'lstm-state';
  return 'plain';
}

const i64 = (values, shape) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), shape);
const ones64 = (n) => new BigInt64Array(n).fill(1n);

// argmax returns the index of the largest of logits[off, off+V), ties to the smaller.
function argmax(logits, off, V) {
  let best = 0;
  let bestV = logits[off];
  for (let j = 1; j < V; j++) {
    if (logits[off + j] > bestV) {
      bestV = logits[off + j];
      best = j;
    }
  }
  return best;
}

// selectRows returns rows keep (ascending) of a float32 tensor's data with n rows.
function selectRows(data, n, keep) {
  if (keep.length === n) return data;
  const size = data.length / n;
  const out = new Float32Array(keep.length * size);
  keep.forEach((i, j) => out.set(data.subarray(i * size, (i + 1) * size), j * size));
  return out;
}

class Decoder {
  constructor(session, task) {
    this.session = session;
    this.task = task;
    this.V = task.vocab;
    this.stop = new Set(task.stop_tokens);
    this.names = session.inputNames;
    this.hasMask = this.names.includes('attention_mask');
    this.hasPos = this.names.includes('position_ids');
    this.kind = detectKind(this.names);
    if (this.kind !== task.kind) throw new Error(`${task.model}: the peer sees a ${this.kind} model, the Go side reported ${task.kind}`);
    this.dims = dims(session, task, this.kind);
    this.steps = 0; // session runs of the last decode
  }

  // step picks each row's next token from logits at row offset at(i) and
  // returns the indices of the rows that go on.
  step(rows, logits, at) {
    const keep = [];
    rows.forEach((r, i) => {
      const tok = argmax(logits, at(i) * this.V, this.V);
      if (this.stop.has(tok)) return;
      r.out.push(tok);
      if (r.out.length >= this.task.new_tokens) return;
      r.seq.push(tok);
      keep.push(i);
    });
    return keep;
  }

  async run(feeds) {
    this.steps++;
    return this.session.run(feeds);
  }

  // decode generates for every context and returns the new tokens of each.
  async decode(contexts) {
    const rows = contexts.map((c) => ({ seq: c.slice(), out: [] }));
    const T = contexts[0].length;
    if (contexts.some((c) => c.length !== T)) throw new Error('peer.js: the contexts of a batch must have one length');
    this.steps = 0;
    if (this.kind === 'kv-cache') await this.decodeKV(rows, T);
    else if (this.kind === 'lstm-state') await this.decodeState(rows, T);
    else await this.decodePlain(rows);
    return rows.map((r) => r.out);
  }

  async decodePlain(rows) {
    while (rows.length > 0) {
      const n = rows.length;
      const T = rows[0].seq.length;
      const feeds = { input_ids: i64(rows.flatMap((r) => r.seq), [n, T]) };
      if (this.hasMask) feeds.attention_mask = new ort.Tensor('int64', ones64(n * T), [n, T]);
      if (this.hasPos) feeds.position_ids = i64(rows.flatMap(() => Array.from({ length: T }, (_, t) => t)), [n, T]);
      const out = await this.run(feeds);
      const keep = this.step(rows, out.logits.data, (i) => i * T + T - 1);
      rows = keep.map((i) => rows[i]);
    }
  }

  async decodeKV(rows, T) {
    const { heads: H, headDim: D, layers: L } = this.dims;
    let n = rows.length;
    let ids = i64(rows.flatMap((r) => r.seq), [n, T]);
    let pos = i64(rows.flatMap(() => Array.from({ length: T }, (_, t) => t)), [n, T]);
    let W = T; // attention_mask width: past + new tokens
    let mask = ones64(n * W);
    const past = {};
    for (let l = 0; l < L; l++) {
      for (const kv of ['key', 'value']) past[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [n, H, 0, D]);
    }
    for (;;) {
      const cur = ids.dims[1];
      const feeds = { input_ids: ids, ...past };
      if (this.hasMask) feeds.attention_mask = new ort.Tensor('int64', mask, [n, W]);
      if (this.hasPos) feeds.position_ids = pos;
      const out = await this.run(feeds);
      const keep = this.step(rows, out.logits.data, (i) => i * cur + cur - 1);
      if (keep.length === 0) return;
      for (let l = 0; l < L; l++) {
        for (const kv of ['key', 'value']) {
          const p = out[`present.${l}.${kv}`];
          past[`past_key_values.${l}.${kv}`] =
            keep.length === n ? p : new ort.Tensor('float32', selectRows(p.data, n, keep), [keep.length, H, W, D]);
        }
      }
      const newMask = new BigInt64Array(keep.length * (W + 1));
      keep.forEach((i, j) => {
        newMask.set(mask.subarray(i * W, (i + 1) * W), j * (W + 1));
        newMask[j * (W + 1) + W] = 1n;
      });
      rows = keep.map((i) => rows[i]);
      n = rows.length;
      ids = i64(rows.map((r) => r.seq[r.seq.length - 1]), [n, 1]);
      pos = i64(rows.map((r) => r.seq.length - 1), [n, 1]);
      mask = newMask;
      W++;
    }
  }

  async decodeState(rows, T) {
    const Hd = this.dims.hidden;
    let n = rows.length;
    const feeds = (ids, h, c, n, T) => {
      const f = {
        input_ids: i64(ids, [n, T]),
        'past_state.h': new ort.Tensor('float32', h, [n, Hd]),
        'past_state.c': new ort.Tensor('float32', c, [n, Hd]),
      };
      if (this.hasMask) f.attention_mask = new ort.Tensor('int64', ones64(n * T), [n, T]);
      if (this.hasPos) f.position_ids = i64(Array.from({ length: n * T }, (_, k) => k % T), [n, T]);
      return f;
    };
    let out = await this.run(feeds(rows.flatMap((r) => r.seq), new Float32Array(n * Hd), new Float32Array(n * Hd), n, T));
    let logits = out.logits.data;
    let at = (i) => i * T + T - 1;
    for (;;) {
      const keep = this.step(rows, logits, at);
      if (keep.length === 0) return;
      const h = selectRows(out['present_state.h'].data, n, keep);
      const c = selectRows(out['present_state.c'].data, n, keep);
      rows = keep.map((i) => rows[i]);
      n = rows.length;
      out = await this.run(feeds(rows.map((r) => r.seq[r.seq.length - 1]), h, c, n, 1));
      logits = out.logits.data;
      at = (i) => i;
    }
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const task = JSON.parse(fs.readFileSync(args.task, 'utf8'));
  // The Go side's session: intra-op threads as given, sequential execution
  // (so no inter-op pool), ONNX Runtime's default optimisation level (all).
  const session = await ort.InferenceSession.create(task.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: task.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const dec = new Decoder(session, task);
  const result = {
    runtime: `onnxruntime-node ${require('onnxruntime-node/package.json').version}`,
    node: process.version,
    model: task.model,
    kind: dec.kind,
    threads: task.threads,
    rows: [],
  };
  let tokens = '';
  for (const b of task.batches) {
    for (let w = 0; w < task.warmup; w++) await dec.decode(b.contexts);
    let seconds = 0;
    let newTokens = 0;
    let gens = [];
    for (let r = 0; r < task.repeats; r++) {
      const start = process.hrtime.bigint();
      gens = await dec.decode(b.contexts);
      seconds += Number(process.hrtime.bigint() - start) / 1e9;
      newTokens += gens.reduce((s, g) => s + g.length, 0);
    }
    const steps = dec.steps;
    result.rows.push({
      batch: b.batch, steps, new_tokens: newTokens, seconds,
      tokens_per_s: newTokens / seconds, ms_per_step: (1000 * seconds) / (task.repeats * steps),
    });
    gens.forEach((g, i) => {
      tokens += `batch ${b.batch} row ${i}:${g.map((t) => ' ' + t).join('')}\n`;
    });
  }
  if (args.tokensOut) fs.writeFileSync(args.tokensOut, tokens);
  await session.release();
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}

main().catch((err) => {
  console.error(`peer.js: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
