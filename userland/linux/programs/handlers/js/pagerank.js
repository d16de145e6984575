// pagerank: PageRank by power iteration (damping 0.85, dangling nodes spread evenly) of a seeded
// 64-node graph with a planted hub (port of wasm-functions/src/pagerank.rs).
// Checks: 1 = a fixed 4-node graph gives its known ranks; 2 = the ranks sum to 1 and are all
// positive; 3 = the hub ranks first. With FLAG_CORRUPT one rank grows by 0.05 (check 2 fails).
"use strict";
const PR_STREAM = 8, NODES = 64, MAX_OUT_LINKS = 4, DAMPING = 0.85, MAX_ITERATIONS = 60, CONVERGED = 1e-10, SUM_TOLERANCE = 1e-9;
const KNOWN_LINKS = [[1, 2], [2], [0], [2]];
const KNOWN_RANKS = [0.3725268513284341, 0.1958239118145845, 0.3941492368569813, 0.0375];
function ranksOf(links) {
  const nodes = links.length, share = 1 / nodes;
  let ranks = new Float64Array(nodes).fill(share), next = new Float64Array(nodes);
  for (let iteration = 0; iteration < MAX_ITERATIONS; iteration++) {
    let dangling = 0;
    for (let n = 0; n < nodes; n++) if (links[n].length === 0) dangling += ranks[n];
    next.fill((1 - DAMPING) * share + DAMPING * dangling * share);
    for (let n = 0; n < nodes; n++) {
      const out = links[n];
      if (out.length) { const part = DAMPING * ranks[n] / out.length; for (const t of out) next[t] += part; }
    }
    let moved = 0;
    for (let n = 0; n < nodes; n++) moved += Math.abs(ranks[n] - next[n]);
    [ranks, next] = [next, ranks];
    if (moved < CONVERGED) break;
  }
  return ranks;
}
function seededGraph(random) {
  const hub = random.index(NODES), links = [];
  for (let node = 0; node < NODES; node++) {
    const targets = [];
    if (node !== hub) {
      if (node % 2 === 0) targets.push(hub);
      for (let i = 0, n = random.below(MAX_OUT_LINKS + 1); i < n; i++) {
        const target = random.index(NODES);
        if (target !== node && targets[targets.length - 1] !== target) targets.push(target);
      }
    }
    links.push(targets);
  }
  return { links, hub };
}
function handle(seed, flags) {
  const known = ranksOf(KNOWN_LINKS);
  if (!KNOWN_RANKS.every((r, i) => Math.abs(known[i] - r) < 1e-6)) return -1n;
  const random = Rng(seed, PR_STREAM);
  const { links, hub } = seededGraph(random);
  const ranks = ranksOf(links);
  if (corruptFlag(flags)) ranks[random.index(NODES)] += 0.05;
  let sum = 0;
  for (const r of ranks) sum += r;
  if (!(Math.abs(sum - 1) < SUM_TOLERANCE && ranks.every((r) => r > 0))) return -2n;
  let top = 0;
  for (let n = 0; n < NODES; n++) if (ranks[n] > ranks[top]) top = n;
  if (top !== hub) return -3n;
  const c = new Checksum();
  for (const r of ranks) c.value(Math.floor(r * 2 ** 40));
  return c.value(top).outcome();
}
