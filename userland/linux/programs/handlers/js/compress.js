// compress: LZ77 compression of 4 KiB of seeded text, then decompression (after
// wasm-functions/src/compress.rs, which uses DEFLATE from miniz_oxide). NOT DEFLATE: QuickJS has
// no compression library and there was no time to check a DEFLATE inflater against the Rust
// known-answer stream, so this is a byte-oriented LZ77 with its own known-answer stream (the
// same format and algorithm as handlers/lua/compress.lua).
// Format: a control byte c < 0x80 is followed by c+1 literal bytes; c >= 0x80 is a match of
// (c & 0x7f) + 3 bytes at distance d (the next two bytes, little-endian, 1 <= d <= output).
// Checks: 1 = a fixed stream decompresses to its text; 2 = the text compresses to fewer bytes;
// 3 = decompression gives the text back. With FLAG_CORRUPT one byte of the compressed stream
// changes before decompression (check 3 fails).
"use strict";
const Z_STREAM = 2, INPUT_BYTES = 4096, MIN_MATCH = 3, MAX_MATCH = 130;
const KNOWN_TEXT = "shoal shoal shoal!";
const KNOWN_STREAM = [5, 115, 104, 111, 97, 108, 32, 0x88, 6, 0, 0, 33];
const WORDS = ["function", "instance", "warm", "cold", "start", "page", "table", "global", "segment", "translation", "lookaside", "buffer",
  "process", "kernel", "runtime", "invocation", "density", "memory", "frame", "address", "space", "switch", "context", "the"];
function textOf(random) {
  const out = [];
  while (out.length < INPUT_BYTES) {
    const word = WORDS[random.index(WORDS.length)];
    for (let i = 0; i < word.length; i++) out.push(word.charCodeAt(i));
    const r = random.below(16);
    out.push(r === 0 ? 10 : r === 1 || r === 2 ? 46 : 32);
  }
  return Uint8Array.from(out.slice(0, INPUT_BYTES));
}
function compress(input) {
  const out = [], head = new Map();
  let literals = [];
  const flush = () => {
    for (let at = 0; at < literals.length; at += 128) {
      const chunk = literals.slice(at, at + 128);
      out.push(chunk.length - 1, ...chunk);
    }
    literals = [];
  };
  const key = (k) => (input[k] << 16) | (input[k + 1] << 8) | input[k + 2];
  const n = input.length;
  let i = 0;
  while (i < n) {
    let best = 0, distance = 0;
    if (i + 2 < n) {
      const candidate = head.get(key(i));
      head.set(key(i), i);
      if (candidate !== undefined && i - candidate <= 0xffff) {
        let length = 0;
        while (length < MAX_MATCH && i + length < n && input[candidate + length] === input[i + length]) length++;
        if (length >= MIN_MATCH) { best = length; distance = i - candidate; }
      }
    }
    if (best > 0) {
      flush();
      out.push(0x80 | (best - MIN_MATCH), distance & 0xff, distance >> 8);
      for (let k = i + 1; k < Math.min(i + best, n - 2); k++) head.set(key(k), k);
      i += best;
    } else {
      literals.push(input[i++]);
    }
  }
  flush();
  return Uint8Array.from(out);
}
function decompress(stream, limit) {
  const out = [];
  for (let i = 0; i < stream.length;) {
    const c = stream[i];
    if (c < 0x80) {
      if (i + c + 2 > stream.length || out.length + c + 1 > limit) return null;
      for (let k = i + 1; k <= i + c + 1; k++) out.push(stream[k]);
      i += c + 2;
    } else {
      if (i + 3 > stream.length) return null;
      const length = (c & 0x7f) + MIN_MATCH, distance = stream[i + 1] | (stream[i + 2] << 8);
      if (distance === 0 || distance > out.length || out.length + length > limit) return null;
      for (let k = 0; k < length; k++) out.push(out[out.length - distance]);
      i += 3;
    }
  }
  return Uint8Array.from(out);
}
function handle(seed, flags) {
  const known = decompress(KNOWN_STREAM, KNOWN_TEXT.length);
  if (known === null || !bytesEqual(known, new TextEncoderLite().encode(KNOWN_TEXT))) return -1n;
  const random = Rng(seed, Z_STREAM);
  const input = textOf(random);
  const compressed = compress(input);
  if (compressed.length >= input.length) return -2n;
  const checksum = new Checksum().bytes(compressed).value(compressed.length).outcome();
  if (corruptFlag(flags)) compressed[random.index(compressed.length)] ^= 0x5a;
  const output = decompress(compressed, INPUT_BYTES);
  if (output === null || !bytesEqual(output, input)) return -3n;
  return checksum;
}
