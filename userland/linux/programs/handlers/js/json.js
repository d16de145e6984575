// json: JSON parse and serialise with the engine's own JSON object (as a JavaScript function
// does; the Rust handler, wasm-functions/src/json.rs, has its own parser) on a seeded 24-record
// document. Checks: 1 = a fixed document with escapes parses to known values and serialises
// canonically; 2 = malformed texts are refused; 3 = the parsed tree equals the built one;
// 4 = serialising it again gives the same text; 5 = the prices add up.
// Differences from the Rust checks, forced by standard JSON: numbers are doubles, so the fixed
// document's extreme integer is -9007199254740991 (2^53 - 1) instead of i64::MIN; "1.5", a lone
// surrogate escape and 9223372036854775808 are valid JSON, so the malformed texts are the other
// seven (plus "[1,]" and "{'a':1}"). With FLAG_CORRUPT one digit of the text changes before
// parsing (check 3 fails).
"use strict";
const JSON_STREAM = 0, RECORDS = 24;
const KNOWN_TEXT = ' { "a" : [1, -2, {"b": null}, []], "c": "x\\"y\\\\z\\u0041\\n\\ud83d\\ude00\\/", "d": true, "e": {}, "f": -9007199254740991 } ';
const KNOWN_CANONICAL = '{"a":[1,-2,{"b":null},[]],"c":"x\\"y\\\\zA\\n\u{1f600}/","d":true,"e":{},"f":-9007199254740991}';
const MALFORMED = ['{"a":}', "[1,2", '"open', "[1 2]", '{"a" 1}', "01", "[true, nul]", "[1,]", "{'a':1}"];
function refused(text) { try { JSON.parse(text); return false; } catch (e) { return e instanceof SyntaxError; } }
function knownAnswers() {
  let v;
  try { v = JSON.parse(KNOWN_TEXT); } catch (e) { return -1n; }
  const known = v.a[1] === -2 && v.a[2].b === null && v.c === 'x"y\\zA\n\u{1f600}/' && v.d === true && v.f === -9007199254740991;
  if (!known || JSON.stringify(v) !== KNOWN_CANONICAL) return -1n;
  if (!MALFORMED.every(refused)) return -2n;
  return 0n;
}
function equal(a, b) {
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i] || !equal(a[ka[i]], b[kb[i]])) return false;
  return true;
}
const NAMES = ["kelp", "reef", "tide", "coral", "drift", "brine", "shoal", "surf"];
function documentOf(random) {
  let total = 0;
  const records = [];
  for (let id = 0; id < RECORDS; id++) {
    const price = random.below(100000) - 20000;
    total += price;
    const tags = [];
    for (let i = 0, n = random.below(4); i < n; i++) tags.push(NAMES[random.index(NAMES.length)]);
    const first = NAMES[random.index(NAMES.length)], second = NAMES[random.index(NAMES.length)];
    const name = `${first}-${second} "n\u00e9${id}"\t\\`;
    const active = random.below(2) === 0;
    const parent = id === 0 ? null : random.below(id);
    records.push({ id, name, price, active, tags, parent });
  }
  return { doc: { service: "shoal-inventory", version: 3, records, meta: { seed: random.next().toString(16) } }, total };
}
function handle(seed, flags) {
  const known = knownAnswers();
  if (known !== 0n) return known;
  const random = Rng(seed, JSON_STREAM);
  const { doc, total } = documentOf(random);
  let text = JSON.stringify(doc);
  if (corruptFlag(flags)) {
    const digits = [];
    for (let i = 0; i < text.length; i++) if (text[i] >= "0" && text[i] <= "9") digits.push(i);
    const p = digits[random.index(digits.length)];
    text = text.slice(0, p) + String.fromCharCode(48 + ((text.charCodeAt(p) - 48 + 1) % 10)) + text.slice(p + 1);
  }
  let parsed;
  try { parsed = JSON.parse(text); } catch (e) { return -3n; }
  if (!equal(parsed, doc)) return -3n;
  const again = JSON.stringify(parsed);
  if (again !== text) return -4n;
  if (parsed.records.reduce((sum, r) => sum + r.price, 0) !== total) return -5n;
  return new Checksum().string(again).value(total).outcome();
}
