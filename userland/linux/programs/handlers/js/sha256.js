// sha256: SHA-256 of 4 KiB, whole and in uneven pieces (port of wasm-functions/src/sha256.rs).
// Checks: 1 = FIPS 180-2 appendix B vectors ("abc", the 448-bit message, the empty message);
// 2 = the whole input and its pieces give one digest. With FLAG_CORRUPT one byte changes
// between the two passes (check 2 fails).
"use strict";
const SHA_STREAM = 4, INPUT_BYTES = 4096, PIECE_MAX_BYTES = 97;
const K = Uint32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
const rotr = (x, n) => (x >>> n) | (x << (32 - n));
class Sha256 {
  constructor() { this.h = Uint32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]); this.block = new Uint8Array(64); this.filled = 0; this.total = 0; this.w = new Uint32Array(64); }
  compress() {
    const w = this.w, b = this.block, h = this.h;
    for (let t = 0; t < 16; t++) w[t] = (b[4 * t] << 24) | (b[4 * t + 1] << 16) | (b[4 * t + 2] << 8) | b[4 * t + 3];
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15], y = w[t - 2];
      w[t] = w[t - 16] + (rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3)) + w[t - 7] + (rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10));
    }
    let [a, bb, c, d, e, f, g, hh] = h;
    for (let t = 0; t < 64; t++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t]) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & bb) ^ (a & c) ^ (bb & c))) >>> 0;
      hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = bb; bb = a; a = (t1 + t2) >>> 0;
    }
    h[0] += a; h[1] += bb; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  update(bytes) {
    for (let i = 0; i < bytes.length; i++) { this.block[this.filled++] = bytes[i]; if (this.filled === 64) { this.compress(); this.filled = 0; } }
    this.total += bytes.length;
  }
  finish() {
    const bits = this.total * 8, pad = [0x80];
    while ((this.filled + pad.length) % 64 !== 56) pad.push(0);
    for (let k = 7; k >= 0; k--) pad.push(k >= 4 ? 0 : (bits >>> (8 * k)) & 0xff);
    this.update(pad);
    const out = new Uint8Array(32);
    for (let i = 0; i < 8; i++) for (let b = 0; b < 4; b++) out[4 * i + b] = (this.h[i] >>> (24 - 8 * b)) & 0xff;
    return out;
  }
}
const digest = (bytes) => { const s = new Sha256(); s.update(bytes); return s.finish(); };
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const KNOWN = [
  ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
  ["abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"],
  ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
];
function handle(seed, flags) {
  for (const [message, expected] of KNOWN) if (hex(digest(new TextEncoderLite().encode(message))) !== expected) return -1n;
  const random = Rng(seed, SHA_STREAM);
  const data = random.bytes(INPUT_BYTES);
  const whole = digest(data);
  if (corruptFlag(flags)) data[random.index(INPUT_BYTES)] ^= 1;
  const s = new Sha256();
  for (let at = 0; at < INPUT_BYTES;) {
    const piece = Math.min(1 + random.index(PIECE_MAX_BYTES), INPUT_BYTES - at);
    s.update(data.subarray(at, at + piece));
    at += piece;
  }
  if (!bytesEqual(whole, s.finish())) return -2n;
  return new Checksum().bytes(whole).outcome();
}
