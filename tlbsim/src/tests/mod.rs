//! The crate's tests: one module per subject, with shared fixtures here.
//!
//! Every rule test builds its page tables with [`PageTableBuilder`] and asserts exact counts.
//! `bench` holds an ignored throughput measurement for information.

mod bench;
mod geometry;
mod report;
mod rules;
mod walk;

use crate::{AccessKind, Geometry, Model, Outcome, SyntheticMemory, VirtualAddress};

/// Size of a 4 KiB page in bytes.
const PAGE_BYTES: u64 = 4096;

/// Returns a model of the geometry `spec`, panicking on a bad spec (a broken test).
fn model(spec: &str) -> Model {
    Model::new(Geometry::parse(spec).expect("test geometry parses")).expect("test geometry valid")
}

/// Returns a model of the Skylake client preset.
fn skylake() -> Model {
    Model::new(Geometry::from_preset("skylake-client").expect("preset exists")).expect("valid")
}

/// Performs one data access at `address`.
fn data(model: &mut Model, address: u64, memory: &SyntheticMemory) -> Outcome {
    model.access(AccessKind::Data, VirtualAddress::new(address), memory)
}

/// Performs one instruction fetch at `address`.
fn fetch(model: &mut Model, address: u64, memory: &SyntheticMemory) -> Outcome {
    model.access(
        AccessKind::Instruction,
        VirtualAddress::new(address),
        memory,
    )
}
