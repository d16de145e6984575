//! Throughput of [`Model::access`], for information only.
//!
//! Run with `cargo test -p tlbsim --release -- --ignored --nocapture bench`. It prints accesses
//! per second for a context-switch-heavy trace on the Skylake preset; nothing is asserted
//! beyond the counter identities, because timing depends on the machine.

use std::hint::black_box;
use std::time::Instant;

use crate::address::{PageSize, PhysicalAddress, VirtualAddress};
use crate::model::{AccessKind, CR3_NO_FLUSH, CR4_PCIDE, CR4_PGE, Model};
use crate::synthetic::PageTableBuilder;

/// Address spaces in the trace.
const SPACES: u64 = 64;
/// Data pages per address space.
const DATA_PAGES: u64 = 64;
/// Code pages, global and shared by every space.
const CODE_PAGES: u64 = 16;
/// Accesses between two address-space switches.
const ACCESSES_PER_SWITCH: u64 = 2_000;
/// Total accesses measured.
const ACCESSES: u64 = 20_000_000;

#[test]
#[ignore = "benchmark; prints accesses per second"]
fn bench_access_throughput() {
    let mut tables = PageTableBuilder::new();
    let code_base = 0xffff_8000_0000_0000;
    let data_base = 0x1000_0000;
    let roots: Vec<PhysicalAddress> = (0..SPACES).map(|_| tables.new_root()).collect();
    for page in 0..CODE_PAGES {
        let address = VirtualAddress::new(code_base + page * 4096);
        tables.map(
            roots[0],
            address,
            PageSize::Size4KiB,
            PhysicalAddress::new(page * 4096),
            true,
        );
    }
    for (space, root) in roots.iter().enumerate() {
        if space > 0 {
            tables.share_pml4_entry(roots[0], *root, VirtualAddress::new(code_base));
        }
        for page in 0..DATA_PAGES {
            let frame = PhysicalAddress::new(((space as u64 + 1) << 30) + page * 4096);
            tables.map(
                *root,
                VirtualAddress::new(data_base + page * 4096),
                PageSize::Size4KiB,
                frame,
                false,
            );
        }
    }
    let mut model = Model::new(crate::Geometry::from_preset("skylake-client").unwrap()).unwrap();
    model.write_cr4(CR4_PGE | CR4_PCIDE);
    let memory = tables.memory();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let started = Instant::now();
    for step in 0..ACCESSES {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        if step % ACCESSES_PER_SWITCH == 0 {
            let space = (step / ACCESSES_PER_SWITCH) % SPACES;
            model.write_cr3(roots[space as usize].as_u64() | (space + 1) | CR3_NO_FLUSH);
        }
        let (kind, address) = if step % 3 == 0 {
            (
                AccessKind::Instruction,
                code_base + (state % (CODE_PAGES * 4096)),
            )
        } else {
            (AccessKind::Data, data_base + (state % (DATA_PAGES * 4096)))
        };
        black_box(model.access(kind, VirtualAddress::new(address), memory));
    }
    let elapsed = started.elapsed();
    let counters = model.counters();
    for counts in [counters.instruction, counters.data] {
        assert_eq!(
            counts.accesses,
            counts.l1_hits + counts.l1_misses + counts.non_canonical
        );
    }
    println!(
        "tlbsim bench: {ACCESSES} accesses in {:.3} s = {:.1} M accesses/s \
         (d.l1_hits={} d.stlb_hits={} d.walks_4k={} i.walks_4k={})",
        elapsed.as_secs_f64(),
        ACCESSES as f64 / elapsed.as_secs_f64() / 1e6,
        counters.data.l1_hits,
        counters.data.stlb_hits,
        counters.data.walks_4k,
        counters.instruction.walks_4k,
    );
}
