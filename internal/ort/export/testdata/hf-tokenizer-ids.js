// Rewrites the "ids" of each case in a cases file with the token ids that
// Hugging Face tokenizers (its Rust library, prebuilt for Node.js by the npm
// package @anush008/tokenizers@0.6.0) gives for the case's "text" under a
// tokenizer.json, without special tokens added. From internal/ort/export:
//
//   npm install --prefix /tmp/hftok --ignore-scripts @anush008/tokenizers@0.6.0
//   NODE_PATH=/tmp/hftok/node_modules node testdata/hf-tokenizer-ids.js \
//     testdata/tiny-gpt2/tokenizer.json testdata/tokenizer-hf-cases.json
const { Tokenizer } = require('@anush008/tokenizers');
const fs = require('fs');

(async () => {
  const [tokFile, casesFile] = process.argv.slice(2);
  const tok = Tokenizer.fromFile(tokFile);
  const cases = JSON.parse(fs.readFileSync(casesFile, 'utf8'));
  for (const c of cases) {
    const enc = await tok.encode(c.text, null, { addSpecialTokens: false });
    c.ids = enc.getIds();
  }
  const lines = cases.map(c => ' {"text": ' + JSON.stringify(c.text) + ', "ids": ' + JSON.stringify(c.ids) + '}');
  fs.writeFileSync(casesFile, '[\n' + lines.join(',\n') + '\n]\n');
})().catch(e => { console.error(e); process.exit(1); });
