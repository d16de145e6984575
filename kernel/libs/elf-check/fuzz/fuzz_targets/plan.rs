//! Coverage-guided fuzzing of `elf_check::plan`: it must never panic, and any plan it returns must
//! keep every rule (the same invariants as the crate's deterministic fuzz tests).

#![no_main]

use elf_check::{
    LoadPlan, MAX_LOAD_SEGMENTS, PAGE_SIZE_BYTES, Placement, PlannedSegment,
    RELOCATION_WIDTH_BYTES, corpus, plan,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|file: &[u8]| {
    let placement = corpus::example_placement();
    if let Ok(plan) = plan(file, &placement) {
        assert_plan_keeps_its_promises(file, &placement, &plan);
    }
});

/// Returns whether the `length_bytes` bytes at `address` all lie inside `segment`'s memory.
fn contains(segment: &PlannedSegment, address: u64, length_bytes: u64) -> bool {
    let Some(segment_end) = segment.virtual_address.checked_add(segment.memory_bytes) else {
        return false;
    };
    address >= segment.virtual_address
        && address
            .checked_add(length_bytes)
            .is_some_and(|end| end <= segment_end)
}

/// Checks every promise a returned plan makes about `file` at `placement`.
fn assert_plan_keeps_its_promises(file: &[u8], placement: &Placement, plan: &LoadPlan) {
    let segments = plan.segments();
    assert!(!segments.is_empty());
    assert!(segments.len() <= MAX_LOAD_SEGMENTS);
    for (position, segment) in segments.iter().enumerate() {
        assert!(!(segment.writable && segment.executable));
        assert_eq!(segment.page_start % PAGE_SIZE_BYTES, 0);
        assert_eq!(segment.page_end % PAGE_SIZE_BYTES, 0);
        assert!(segment.page_start <= segment.virtual_address);
        assert!(segment.virtual_address + segment.memory_bytes <= segment.page_end);
        assert!(placement.allowed.start <= segment.page_start);
        assert!(segment.page_end <= placement.allowed.end);
        assert!(segment.file_bytes <= segment.memory_bytes);
        assert_eq!(
            segment.file_data(file).map(<[u8]>::len),
            usize::try_from(segment.file_bytes).ok()
        );
        for other in segments.get(..position).unwrap_or(&[]) {
            assert!(segment.page_end <= other.page_start || other.page_end <= segment.page_start);
        }
    }
    assert!(
        segments
            .iter()
            .any(|segment| segment.executable && contains(segment, plan.entry(), 1))
    );
    let mut count = 0;
    for relocation in plan.relocations(file) {
        let relocation = relocation.expect("a planned image's relocations read back");
        assert!(
            segments
                .iter()
                .any(|segment| contains(segment, relocation.target, RELOCATION_WIDTH_BYTES))
        );
        count += 1;
    }
    assert_eq!(count, plan.relocation_count());
}
