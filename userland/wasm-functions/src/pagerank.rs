//! PageRank by power iteration (damping 0.85, dangling nodes spread evenly), as a graph function
//! does, on a seeded 64-node graph in compressed-row form with a planted hub that half the nodes
//! link to and that links to no node (were it to link to one node, that node would inherit most of
//! its rank and could outrank it). Checked on a fixed 4-node graph with known ranks, then by invariants: the ranks sum to
//! 1, every rank is positive, and the hub ranks first.

use alloc::vec::Vec;

use crate::{Checksum, Rng, ensure};

/// Nodes of the seeded graph.
pub const NODES: usize = 64;
/// Most out-links of a node besides its link to the hub.
const MAX_OUT_LINKS: u64 = 4;
/// The damping factor.
const DAMPING: f64 = 0.85;
/// Most iterations.
const MAX_ITERATIONS: usize = 60;
/// Iteration stops when the ranks move less than this (L1 norm).
const CONVERGED: f64 = 1e-10;
/// How far the sum of the ranks may be from 1.
const SUM_TOLERANCE: f64 = 1e-9;
/// Bytes of the module's arena ([`crate::arena`]): the graph and the rank vectors (a peak of
/// 2.4 KiB on wasm32).
pub const ARENA_BYTES: usize = 8 * 1024;
/// The generator stream of this handler.
const STREAM: u64 = 8;

/// Self-check: the fixed graph gives its known ranks.
pub const CHECK_KNOWN_GRAPH: u32 = 1;
/// Self-check: the ranks sum to 1 and are all positive.
pub const CHECK_DISTRIBUTION: u32 = 2;
/// Self-check: the planted hub ranks first.
pub const CHECK_HUB_FIRST: u32 = 3;

/// A directed graph in compressed-row form: the out-links of node `n` are
/// `targets[starts[n]..starts[n + 1]]`.
pub struct Graph {
    starts: Vec<usize>,
    targets: Vec<usize>,
}

impl Graph {
    /// Returns the graph with the out-links `links(n)` of each of `nodes` nodes.
    pub fn new(nodes: usize, mut links: impl FnMut(usize, &mut Vec<usize>)) -> Graph {
        let mut starts = Vec::with_capacity(nodes + 1);
        let mut targets = Vec::new();
        for node in 0..nodes {
            starts.push(targets.len());
            links(node, &mut targets);
        }
        starts.push(targets.len());
        Graph { starts, targets }
    }

    /// Returns the number of nodes.
    pub fn nodes(&self) -> usize {
        self.starts.len() - 1
    }

    /// Returns the out-links of `node`.
    fn links(&self, node: usize) -> &[usize] {
        &self.targets[self.starts[node]..self.starts[node + 1]]
    }

    /// Returns the PageRank of every node (they sum to 1).
    pub fn ranks(&self) -> Vec<f64> {
        let nodes = self.nodes();
        let share = 1.0 / nodes as f64;
        let mut ranks = alloc::vec![share; nodes];
        let mut next = alloc::vec![0.0; nodes];
        for _ in 0..MAX_ITERATIONS {
            let dangling: f64 = (0..nodes).filter(|&node| self.links(node).is_empty()).map(|node| ranks[node]).sum();
            next.fill((1.0 - DAMPING) * share + DAMPING * dangling * share);
            for (node, &rank) in ranks.iter().enumerate() {
                let links = self.links(node);
                if !links.is_empty() {
                    let part = DAMPING * rank / links.len() as f64;
                    for &target in links {
                        next[target] += part;
                    }
                }
            }
            let moved: f64 = ranks.iter().zip(&next).map(|(old, new)| (old - new).abs()).sum();
            core::mem::swap(&mut ranks, &mut next);
            if moved < CONVERGED {
                break;
            }
        }
        ranks
    }
}

/// The fixed graph: 0 → 1, 0 → 2, 1 → 2, 2 → 0, 3 → 2, and its ranks (computed independently,
/// 200 iterations in double precision).
const KNOWN_LINKS: [&[usize]; 4] = [&[1, 2], &[2], &[0], &[2]];
/// The known ranks of [`KNOWN_LINKS`].
const KNOWN_RANKS: [f64; 4] = [0.372_526_851_328_434_1, 0.195_823_911_814_584_5, 0.394_149_236_856_981_3, 0.0375];
/// How far a computed rank of the fixed graph may be from the known one.
const KNOWN_TOLERANCE: f64 = 1e-6;

/// Returns the seeded graph and its hub.
fn seeded_graph(random: &mut Rng) -> (Graph, usize) {
    let hub = random.index(NODES);
    let graph = Graph::new(NODES, |node, targets| {
        if node == hub {
            return;
        }
        if node % 2 == 0 {
            targets.push(hub);
        }
        for _ in 0..random.below(MAX_OUT_LINKS + 1) {
            let target = random.index(NODES);
            if target != node && !targets.ends_with(&[target]) {
                targets.push(target);
            }
        }
    });
    (graph, hub)
}

/// Ranks a seeded graph and checks the ranks; returns a checksum of them.
///
/// # Errors
/// Returns the failed check ([`CHECK_KNOWN_GRAPH`], [`CHECK_DISTRIBUTION`] or
/// [`CHECK_HUB_FIRST`]). With `corrupt`, one rank grows by 0.05 after the iteration.
pub fn handle(seed: u64, corrupt: bool) -> Result<u64, u32> {
    let known = Graph::new(KNOWN_LINKS.len(), |node, targets| targets.extend_from_slice(KNOWN_LINKS[node]));
    let known_ok = known.ranks().iter().zip(KNOWN_RANKS).all(|(rank, expected)| (rank - expected).abs() < KNOWN_TOLERANCE);
    ensure(known_ok, CHECK_KNOWN_GRAPH)?;

    let mut random = Rng::new(seed, STREAM);
    let (graph, hub) = seeded_graph(&mut random);
    let mut ranks = graph.ranks();
    if corrupt {
        let node = random.index(NODES);
        ranks[node] += 0.05;
    }
    let sum: f64 = ranks.iter().sum();
    ensure((sum - 1.0).abs() < SUM_TOLERANCE && ranks.iter().all(|&rank| rank > 0.0), CHECK_DISTRIBUTION)?;
    let top = (0..NODES).fold(0, |best, node| if ranks[node] > ranks[best] { node } else { best });
    ensure(top == hub, CHECK_HUB_FIRST)?;

    // The ranks to 2^-40: bit-exact across runs (IEEE arithmetic, one evaluation order).
    let scale = (1u64 << 40) as f64;
    Ok(ranks.iter().fold(Checksum::new(), |checksum, &rank| checksum.value((rank * scale) as u64)).value(top as u64).finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_known_graph_ranks_in_its_order() {
        let known = Graph::new(4, |node, targets| targets.extend_from_slice(KNOWN_LINKS[node]));
        let ranks = known.ranks();
        assert!(ranks[2] > ranks[0] && ranks[0] > ranks[1] && ranks[1] > ranks[3]);
    }

    #[test]
    fn dangling_nodes_keep_the_sum_at_one() {
        let graph = Graph::new(3, |node, targets| {
            if node == 0 {
                targets.push(1);
            }
        });
        let sum: f64 = graph.ranks().iter().sum();
        assert!((sum - 1.0).abs() < SUM_TOLERANCE);
    }

    #[test]
    fn a_raised_rank_fails_the_distribution_check() {
        assert_eq!(handle(17, true), Err(CHECK_DISTRIBUTION));
    }
}
