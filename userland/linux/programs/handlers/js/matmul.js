// matmul: 16x16 matrix product in doubles (port of wasm-functions/src/matmul.rs). The entries
// are small integers, so sums are exact and every evaluation order must agree exactly.
// Checks: 1 = A*I = A; 2 = the i-k-j order gives the same product; 3 = Freivalds C*x = A*(B*x).
// With FLAG_CORRUPT one entry of the product is off by one (check 2 fails).
"use strict";
const MM_STREAM = 5, SIZE = 16, BOUND = 8;
const zeros = () => Array.from({ length: SIZE }, () => new Float64Array(SIZE));
function randomMatrix(random) {
  const m = zeros();
  for (let i = 0; i < SIZE; i++) for (let j = 0; j < SIZE; j++) m[i][j] = random.below(2 * BOUND + 1) - BOUND;
  return m;
}
function multiply(a, b) {
  const p = zeros();
  for (let i = 0; i < SIZE; i++) for (let j = 0; j < SIZE; j++) { let sum = 0; for (let k = 0; k < SIZE; k++) sum += a[i][k] * b[k][j]; p[i][j] = sum; }
  return p;
}
function multiplyIkj(a, b) {
  const p = zeros();
  for (let i = 0; i < SIZE; i++) for (let k = 0; k < SIZE; k++) { const f = a[i][k], row = b[k], out = p[i]; for (let j = 0; j < SIZE; j++) out[j] += f * row[j]; }
  return p;
}
function apply(m, x) {
  const y = new Float64Array(SIZE);
  for (let i = 0; i < SIZE; i++) { let sum = 0; for (let j = 0; j < SIZE; j++) sum += m[i][j] * x[j]; y[i] = sum; }
  return y;
}
const same = (a, b) => a.every((row, i) => bytesEqual(row, b[i]));
function handle(seed, flags) {
  const random = Rng(seed, MM_STREAM);
  const a = randomMatrix(random), b = randomMatrix(random);
  const identity = zeros();
  for (let i = 0; i < SIZE; i++) identity[i][i] = 1;
  if (!same(multiply(a, identity), a)) return -1n;
  const product = multiply(a, b);
  if (corruptFlag(flags)) { const i = random.index(SIZE), j = random.index(SIZE); product[i][j] += 1; }
  if (!same(multiplyIkj(a, b), product)) return -2n;
  const x = Float64Array.from({ length: SIZE }, () => random.below(5) + 1);
  if (!bytesEqual(apply(product, x), apply(a, apply(b, x)))) return -3n;
  const c = new Checksum();
  for (const row of product) for (const entry of row) c.value(entry);
  return c.outcome();
}
