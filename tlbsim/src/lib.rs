//! tlbsim: a deterministic architectural model of the x86-64 TLB hierarchy.
//!
//! No machine available to shoal shows real TLB behaviour, so the project measures with this
//! model instead: a QEMU TCG plugin feeds it the guest's instruction fetches, data accesses and
//! TLB-invalidating instructions, and it counts hits, misses and page walks exactly as the
//! Intel SDM vol. 3A §4.10 ("Caching Translation Information") allows a processor with the
//! chosen TLB geometry to behave. The counts are reproducible: the same guest run gives the same
//! numbers.
//!
//! Layout of the crate:
//!
//! - `address` — [`VirtualAddress`], [`PhysicalAddress`], [`PageSize`], [`Pcid`].
//! - `geometry` and `presets` — the shape of the hierarchy ([`Geometry`]), its string grammar
//!   for plugin arguments, and named real cores.
//! - `tlb` — set-associative arrays with true LRU, and the [`Translation`] they cache.
//! - `walk` — the 4-level page walker over a [`GuestMemory`].
//! - `model` — the [`Model`]: the hierarchy plus the SDM's fill and invalidation rules.
//! - `counters` and `report` — [`Counters`], [`PhaseReport`] and its stable line format.
//! - `synthetic` — a `HashMap`-backed guest memory and page-table builder for tests.
//! - `instruction` — recognises the instructions the plugin intercepts (MOV to CRn, INVLPG,
//!   INVPCID, WRMSR, `tlbsim_protocol` markers) and their memory operands.
//! - `guest_ram` — the guest's RAM file: q35's physical layout and a [`GuestMemory`] over it.
//! - `plugin` — the QEMU TCG plugin: its arguments, the [`plugin::Session`] that turns guest
//!   events into model calls and report lines, and (in `plugin/qemu.rs`, the crate's only
//!   unsafe code) the FFI with QEMU. The crate also builds as the `cdylib` `libtlbsim.so`.
//!
//! The `README.md` next to `Cargo.toml` lists what is modelled and what is not.
//!
//! ```
//! use tlbsim::{AccessKind, Geometry, Model, Outcome, PageSize, PageTableBuilder, PhysicalAddress,
//!              VirtualAddress};
//!
//! let mut tables = PageTableBuilder::new();
//! let root = tables.new_root();
//! let page = VirtualAddress::new(0x40_0000);
//! tables.map(root, page, PageSize::Size4KiB, PhysicalAddress::new(0x20_0000), false);
//!
//! let mut model = Model::new(Geometry::from_preset("skylake-client").unwrap()).unwrap();
//! model.write_cr3(root.as_u64());
//! model.begin_phase(1, "example");
//! assert!(matches!(model.access(AccessKind::Data, page, tables.memory()), Outcome::Walked(_)));
//! assert!(matches!(model.access(AccessKind::Data, page, tables.memory()), Outcome::L1Hit(_)));
//! let report = model.end_phase().unwrap();
//! assert_eq!(report.counters.data.walks_4k, 1);
//! assert!(report.to_line().starts_with("tlbsim phase v=2 id=1 name=example "));
//! ```

// Unsafe code is denied everywhere except the plugin's FFI module, `plugin/qemu.rs`.
#![deny(unsafe_code)]

pub mod address;
/// The walk-cost model: paging-structure caches and a cache hierarchy that price walks in cycles.
pub mod cost;
pub mod counters;
pub mod geometry;
pub mod guest_ram;
pub mod instruction;
pub mod model;
pub mod plugin;
pub mod presets;
pub mod report;
pub mod synthetic;
pub mod tlb;
pub mod walk;

#[cfg(test)]
mod tests;

pub use address::{PageSize, PagingLevel, Pcid, PhysicalAddress, VirtualAddress};
pub use counters::{AccessCounters, Counters, FlushCause, FlushCount, InstructionCounts, RegionWalks};
pub use geometry::{ArrayGeometry, Geometry, GeometryError, LevelGeometry, LevelName, PageSizeSet};
pub use model::{AccessKind, ControlRegisters, FlushReport, Invpcid, InvpcidError, Model, Outcome};
pub use report::{LineError, PhaseReport};
pub use synthetic::{PageTableBuilder, SyntheticMemory};
pub use tlb::{EntrySlot, Translation};
pub use walk::{GuestMemory, Mapping, Walk, WalkFault};
