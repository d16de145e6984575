// Shared by every JavaScript handler (evaluated before the handler's own file): the seeded
// generator (SplitMix64, as `wasm_functions::Rng`, in BigInt arithmetic mod 2^64), the FNV-1a 64
// checksum and the outcome encoding. Handlers never use Math.random (QuickJS seeds it from the
// clock): their results depend on the seed only.
"use strict";
const MASK64 = (1n << 64n) - 1n;

// A generator for `seed` (a BigInt) and the handler's `stream`.
function Rng(seed, stream) {
  let state = (BigInt(seed) ^ (BigInt(stream) * 0xd1b54a32d192ed03n)) & MASK64;
  const r = {
    next() {
      state = (state + 0x9e3779b97f4a7c15n) & MASK64;
      let z = state;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
      return z ^ (z >> 31n);
    },
    // A Number in 0..bound-1.
    below(bound) { return Number(r.next() % BigInt(bound)); },
    index(length) { return Number(r.next() % BigInt(length)); },
    // A Number holding the low 32 bits of the next word.
    low32() { return Number(r.next() & 0xffffffffn); },
    // n random bytes (little-endian words, as `Rng::fill`).
    bytes(n) {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i += 8) {
        const w = r.next();
        const lo = Number(w & 0xffffffffn), hi = Number(w >> 32n);
        for (let k = 0; k < 8 && i + k < n; k++) out[i + k] = (k < 4 ? lo >>> (8 * k) : hi >>> (8 * (k - 4))) & 0xff;
      }
      return out;
    },
  };
  return r;
}

// FNV-1a 64 in two 32-bit halves (h = [hi, lo]): prime 2^40 + 0x1b3.
class Checksum {
  constructor() { this.hi = 0xcbf29ce4; this.lo = 0x84222325; }
  byte(b) {
    const lo = (this.lo ^ b) >>> 0, hi = this.hi;
    // (hi*2^32 + lo) * (2^40 + 0x1b3) mod 2^64
    const plo = lo * 0x1b3;
    const carry = Math.floor(plo / 4294967296);
    const newLo = plo >>> 0;
    const newHi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) >>> 0;
    this.hi = newHi; this.lo = newLo;
    return this;
  }
  bytes(a) { for (let i = 0; i < a.length; i++) this.byte(a[i]); return this; }
  string(s) { return this.bytes(new TextEncoderLite().encode(s)); }
  // Adds the 8 little-endian bytes of a BigInt or a Number (an integer, two's complement).
  value(v) {
    let w = BigInt.asUintN(64, BigInt(v));
    for (let k = 0; k < 8; k++) { this.byte(Number(w & 0xffn)); w >>= 8n; }
    return this;
  }
  // The outcome of a successful handler: the low 63 bits, a BigInt.
  outcome() { return (BigInt(this.hi & 0x7fffffff) << 32n) | BigInt(this.lo); }
}

// UTF-8 encoder (QuickJS has no TextEncoder).
class TextEncoderLite {
  encode(s) {
    const out = [];
    for (const ch of s) {
      const c = ch.codePointAt(0);
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return Uint8Array.from(out);
  }
}

// Whether the invocation's flags (a BigInt) ask for a perturbed computation (FLAG_CORRUPT).
function corruptFlag(flags) { return (BigInt(flags) & 1n) !== 0n; }

function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
