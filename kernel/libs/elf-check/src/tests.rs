//! Host tests: the valid image, one case per rule (the corpus plus placement cases), messages,
//! and a deterministic, seeded fuzz run asserting that [`plan`] never panics and that every plan
//! it returns keeps its promises. (Deeper coverage-guided fuzzing lives in `fuzz/`, outside the
//! workspace.)

use alloc::collections::BTreeSet;
use alloc::string::ToString;
use alloc::vec::Vec;

use super::*;
use crate::corpus::{self, BrokenElf};

/// Returns placements under which the corpus must behave the same: the example window slot, a
/// private-region-like range, and base 0 over the whole lower half.
fn placements() -> Vec<Placement> {
    vec![
        corpus::example_placement(),
        Placement {
            base: 0x40_0000,
            allowed: 0x40_0000..0x4000_0000_0000,
        },
        Placement {
            base: 0,
            allowed: 0..0x8000_0000_0000,
        },
    ]
}

/// Returns the kind of error `plan` reports for `file` at `placement`, or `"ok"`.
fn outcome(file: &[u8], placement: &Placement) -> &'static str {
    match plan(file, placement) {
        Ok(_) => "ok",
        Err(error) => error.kind(),
    }
}

#[test]
fn valid_minimal_plans_with_exact_segments_entry_and_relocations() {
    let file = corpus::valid_minimal();
    for placement in placements() {
        let base = placement.base;
        let plan = plan(&file, &placement).expect("the valid image plans");
        assert_eq!(plan.kind(), ImageKind::PositionIndependent);
        assert_eq!(plan.base(), base);
        assert_eq!(plan.entry(), base + 0x1c0);
        let text = PlannedSegment {
            program_header_index: 0,
            page_start: base,
            page_end: base + 0x1000,
            virtual_address: base,
            memory_bytes: 0x200,
            file_offset: 0,
            file_bytes: 0x200,
            writable: false,
            executable: true,
        };
        let data = PlannedSegment {
            program_header_index: 1,
            page_start: base + 0x1000,
            page_end: base + 0x2000,
            virtual_address: base + 0x1200,
            memory_bytes: 0x100,
            file_offset: 0x200,
            file_bytes: 0x60,
            writable: true,
            executable: false,
        };
        assert_eq!(plan.segments(), &[text, data]);
        assert_eq!(plan.page_span(), base..base + 0x2000);
        assert_eq!(text.page_count(), 1);
        assert_eq!(data.file_data(&file), file.get(0x200..0x260));

        let relocations: Vec<Relocation> = plan
            .relocations(&file)
            .collect::<Result<_, _>>()
            .expect("a planned image's relocations read back");
        assert_eq!(relocations, corpus::valid_minimal_relocations(base));
        assert_eq!(plan.relocation_count(), 3);
    }
}

#[test]
fn link_span_covers_the_linked_pages() {
    assert_eq!(link_span(&corpus::valid_minimal()), Ok(0..0x2000));
}

#[test]
fn executable_loads_at_its_link_address_with_base_zero() {
    let file = corpus::valid_executable(0x40_0000);
    let placement = Placement {
        base: 0,
        allowed: 0x40_0000..0x4000_0000_0000,
    };
    let plan = plan(&file, &placement).expect("the ET_EXEC image plans");
    assert_eq!(plan.kind(), ImageKind::Executable);
    assert_eq!(plan.entry(), 0x40_01c0);
    assert_eq!(plan.page_span(), 0x40_0000..0x40_2000);
    let relocations: Vec<Relocation> = plan.relocations(&file).map(Result::unwrap).collect();
    assert_eq!(relocations, corpus::valid_minimal_relocations(0x40_0000));
}

#[test]
fn empty_load_segment_is_checked_but_not_planned() {
    let mut spec = corpus::ImageSpec::minimal(goblin::elf64::header::ET_DYN, 0);
    if let Some(header) = spec.program_header_mut(3) {
        *header = ProgramHeader {
            p_type: PT_LOAD,
            p_flags: goblin::elf64::program_header::PF_R,
            p_vaddr: 0x10_0000,
            ..ProgramHeader::default()
        };
    }
    let plan = plan(&spec.to_bytes(), &corpus::example_placement()).expect("plans");
    assert_eq!(plan.segments().len(), 2);
}

/// One case per rule that depends on the placement rather than on the file.
fn placement_cases() -> Vec<(&'static str, Vec<u8>, Placement, &'static str)> {
    let valid = corpus::valid_minimal();
    vec![
        (
            "unaligned base",
            valid.clone(),
            Placement {
                base: 0x4000_0000_0800,
                allowed: 0x4000_0000_0000..0x4000_4000_0000,
            },
            "base-not-page-aligned",
        ),
        (
            "ET_EXEC with a base",
            corpus::valid_executable(0x40_0000),
            Placement {
                base: 0x1000,
                allowed: 0..0x8000_0000_0000,
            },
            "fixed-image-with-base",
        ),
        (
            "allowed range one page too short",
            valid.clone(),
            Placement {
                base: 0x4000_0000_0000,
                allowed: 0x4000_0000_0000..0x4000_0000_1000,
            },
            "outside-user-range",
        ),
        (
            "base below the allowed range (null guard)",
            valid.clone(),
            Placement {
                base: 0,
                allowed: 0x40_0000..0x4000_0000_0000,
            },
            "outside-user-range",
        ),
        (
            "reversed allowed range",
            valid.clone(),
            Placement {
                base: 0x4000_0000_0000,
                allowed: Range {
                    start: 0x4000_4000_0000,
                    end: 0x4000_0000_0000,
                },
            },
            "outside-user-range",
        ),
        (
            "base that wraps the address space",
            valid,
            Placement {
                base: 0xffff_ffff_ffff_f000,
                allowed: 0..u64::MAX,
            },
            "address-overflow",
        ),
    ]
}

#[test]
fn placement_rules_are_enforced() {
    for (name, file, placement, expected) in placement_cases() {
        assert_eq!(outcome(&file, &placement), expected, "case {name}");
    }
}

#[test]
fn every_broken_corpus_entry_fails_with_its_kind() {
    let broken = corpus::broken();
    for placement in placements() {
        for BrokenElf {
            name,
            bytes,
            expected,
        } in &broken
        {
            assert_eq!(
                outcome(bytes, &placement),
                *expected,
                "corpus entry {name} at base {:#x}: {:?}",
                placement.base,
                plan(bytes, &placement).err().map(|error| error.to_string())
            );
        }
    }
    let names: BTreeSet<&str> = broken.iter().map(|entry| entry.name).collect();
    assert_eq!(names.len(), broken.len(), "corpus names are unique");
    for required in [
        "truncated",
        "wrong-machine",
        "overlapping-segments",
        "huge-memsz",
        "bad-entry",
        "outside-user-range",
        "unsupported-relocation",
        "write-and-execute",
        "filesz-exceeds-memsz",
        "interpreter",
    ] {
        assert!(names.contains(required), "corpus has {required}");
    }
}

#[test]
fn every_error_kind_has_a_case_and_kinds_are_unique() {
    let kinds: BTreeSet<&str> = ElfError::KINDS.iter().copied().collect();
    assert_eq!(kinds.len(), ElfError::KINDS.len(), "kinds are unique");
    let mut covered: BTreeSet<&str> = corpus::broken()
        .iter()
        .map(|entry| entry.expected)
        .collect();
    covered.extend(placement_cases().iter().map(|case| case.3));
    assert_eq!(covered, kinds);
}

#[test]
fn messages_name_the_problem_with_its_values() {
    let cases = [
        (
            ElfError::UnsupportedRelocation {
                index: 5,
                relocation_type: 7,
            },
            "relocation 5 has unsupported type 7 (R_X86_64_JUMP_SLOT); only R_X86_64_RELATIVE \
             (8) is supported",
        ),
        (
            ElfError::WrongMachine { machine: 183 },
            "ELF machine 183 (EM_AARCH64) is not EM_X86_64 (62)",
        ),
        (
            ElfError::UnsupportedType { elf_type: 1 },
            "ELF type 1 (ET_REL) is not supported: only ET_EXEC (2) and ET_DYN (3) are loaded",
        ),
        (
            ElfError::OverlappingSegments {
                index: 2,
                page_start: 0x1000,
                page_end: 0x3000,
                other_index: 1,
                other_page_start: 0x2000,
                other_page_end: 0x4000,
            },
            "segment 2 at pages 0x1000..0x3000 overlaps segment 1 at pages 0x2000..0x4000; shoal \
             maps each page with one set of permissions, so PT_LOAD segments may not share a page",
        ),
        (
            ElfError::UnsupportedRelocationFormat { tag: DT_RELR },
            "dynamic table has DT_RELR (packed relative relocations) (36); only DT_RELA tables \
             with R_X86_64_RELATIVE (8) relocations are supported",
        ),
        (
            ElfError::BadMagic {
                found: *b"MZ\x90\x00",
            },
            "not an ELF file: it starts with [4d, 5a, 90, 00], not 7f 45 4c 46 (\\x7fELF)",
        ),
    ];
    for (error, message) in cases {
        assert_eq!(error.to_string(), message);
    }
}

#[test]
fn every_corpus_message_is_specific() {
    for entry in corpus::broken() {
        let error = plan(&entry.bytes, &corpus::example_placement()).unwrap_err();
        let message = error.to_string();
        assert!(!message.contains("UNKNOWN"), "{}: {message}", entry.name);
        assert!(message.len() > 20, "{}: {message}", entry.name);
    }
}

#[test]
fn relocations_of_another_file_fail_once_then_stop() {
    let file = corpus::valid_minimal();
    let plan = plan(&file, &corpus::example_placement()).expect("plans");
    let short = file.get(..0x130).expect("the valid image is longer");
    let mut relocations = plan.relocations(short);
    assert_eq!(
        relocations
            .next()
            .map(|result| result.map_err(|error| error.kind())),
        Some(Err("relocation-table-out-of-bounds"))
    );
    assert_eq!(relocations.next(), None);
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
            .any(|segment| segment.executable && segment.contains(plan.entry(), 1))
    );
    let mut count = 0;
    for relocation in plan.relocations(file) {
        let relocation = relocation.expect("a planned image's relocations read back");
        assert!(
            segments
                .iter()
                .any(|segment| segment.contains(relocation.target, RELOCATION_WIDTH_BYTES))
        );
        count += 1;
    }
    assert_eq!(count, plan.relocation_count());
}

/// A xorshift64 pseudo-random number generator: small, fast and the same on every host, so a fuzz
/// case is reproduced by its seed and case number alone.
struct XorShift64 {
    /// Current state; never zero.
    state: u64,
}

impl XorShift64 {
    /// Returns the generator for case `case` of the run seeded with `seed`. The state is mixed
    /// with SplitMix64 so that neighbouring cases do not start from neighbouring states.
    fn for_case(seed: u64, case: u64) -> Self {
        let mut mixed = seed ^ case.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        mixed ^= mixed >> 31;
        Self {
            state: if mixed == 0 {
                0x2545_f491_4f6c_dd1d
            } else {
                mixed
            },
        }
    }

    /// Returns the next 64 random bits.
    fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    /// Returns a value in `0..bound` (`bound` must be non-zero; the slight modulo bias is
    /// irrelevant here).
    fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    /// Returns an index in `0..length` (`length` must be non-zero).
    fn index(&mut self, length: usize) -> usize {
        let length = u64::try_from(length).unwrap_or(u64::MAX);
        usize::try_from(self.below(length)).unwrap_or(0)
    }

    /// Returns an arbitrary `usize`.
    fn any_usize(&mut self) -> usize {
        // Truncation on 32-bit hosts is fine: any value will do.
        self.next_u64() as usize
    }

    /// Returns a field value: arbitrary, edge, and plausible small ones, equally likely.
    fn field_value(&mut self) -> u64 {
        let shift = self.below(64);
        match self.below(7) {
            0 => self.next_u64(),
            1 => 0,
            2 => u64::MAX,
            3 => 0x8000_0000_0000_0000,
            4 => self.below(0x4000),
            5 => 1_u64 << shift,
            _ => u64::MAX << shift,
        }
    }

    /// Returns one [`Mutation`]: byte flips and field overwrites four times as often as
    /// truncation.
    fn mutation(&mut self) -> Mutation {
        match self.below(9) {
            0..4 => Mutation::FlipByte {
                position: self.any_usize(),
                mask: u8::try_from(self.below(255) + 1).unwrap_or(u8::MAX),
            },
            4..8 => Mutation::OverwriteField {
                field: self.any_usize(),
                value: self.field_value(),
            },
            _ => Mutation::Truncate {
                length: self.any_usize(),
            },
        }
    }
}

/// One change to a file.
#[derive(Clone, Debug)]
enum Mutation {
    /// XOR the byte at `position % length` with `mask`.
    FlipByte { position: usize, mask: u8 },
    /// Overwrite header, program-header, dynamic or relocation field `field % count`.
    OverwriteField { field: usize, value: u64 },
    /// Cut the file to `length % (length + 1)` bytes.
    Truncate { length: usize },
}

/// Applies `mutation` to `bytes`.
fn apply(bytes: &mut Vec<u8>, mutation: &Mutation, fields: &[(u64, usize)]) {
    match *mutation {
        Mutation::FlipByte { position, mask } => {
            if !bytes.is_empty() {
                let length = bytes.len();
                if let Some(byte) = bytes.get_mut(position % length) {
                    *byte ^= mask;
                }
            }
        }
        Mutation::OverwriteField { field, value } => {
            if let Some(&(offset, width)) = fields.get(field % fields.len()) {
                let offset = usize::try_from(offset).unwrap_or(usize::MAX);
                let end = offset.saturating_add(width);
                if let (Some(slot), Some(value)) =
                    (bytes.get_mut(offset..end), value.to_le_bytes().get(..width))
                {
                    slot.copy_from_slice(value);
                }
            }
        }
        Mutation::Truncate { length } => {
            let length = length % (bytes.len() + 1);
            bytes.truncate(length);
        }
    }
}

/// Number of fuzz cases per fuzz test (fewer under Miri, which is orders of magnitude slower).
/// `ELF_CHECK_FUZZ_CASES` overrides it.
const FUZZ_CASES: u64 = if cfg!(miri) { 20 } else { 10_000 };

/// Default seed of the fuzz tests; `ELF_CHECK_FUZZ_SEED` (decimal or `0x` hexadecimal)
/// overrides it.
const FUZZ_SEED: u64 = 0x5eed_e1f0_c4ec_2026;

/// Reads a `u64` from environment variable `name`, decimal or `0x` hexadecimal.
fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16).ok(),
        None => text.replace('_', "").parse().ok(),
    }
}

/// Prints the seed and case number of a fuzz case if it is dropped while panicking, so a failure
/// can be reproduced; silent otherwise.
struct FuzzCaseReport {
    /// Name of the fuzz test.
    test: &'static str,
    /// Seed of the run.
    seed: u64,
    /// Number of the running case.
    case: u64,
}

impl Drop for FuzzCaseReport {
    fn drop(&mut self) {
        if std::thread::panicking() {
            std::eprintln!(
                "{}: failed at case {} with seed {:#x}; rerun with ELF_CHECK_FUZZ_SEED={:#x} \
                 ELF_CHECK_FUZZ_CASES={} to reproduce",
                self.test,
                self.case,
                self.seed,
                self.seed,
                self.case + 1,
            );
        }
    }
}

/// Runs `fuzz_case` on the generator of every case of the run, reporting the failing case.
fn fuzz(test: &'static str, mut fuzz_case: impl FnMut(&mut XorShift64)) {
    let seed = env_u64("ELF_CHECK_FUZZ_SEED").unwrap_or(FUZZ_SEED);
    let cases = env_u64("ELF_CHECK_FUZZ_CASES").unwrap_or(FUZZ_CASES);
    for case in 0..cases {
        let report = FuzzCaseReport { test, seed, case };
        fuzz_case(&mut XorShift64::for_case(seed, case));
        drop(report);
    }
}

#[test]
fn plan_never_panics_on_mutated_images() {
    let valid = corpus::valid_minimal();
    let broken = corpus::broken();
    let fields = corpus::field_offsets();
    let placements = placements();
    fuzz("plan_never_panics_on_mutated_images", |random| {
        // The valid image half of the time, otherwise a broken one.
        let mut bytes = if random.below(2) == 0 {
            valid.clone()
        } else {
            broken
                .get(random.index(broken.len()))
                .map_or_else(|| valid.clone(), |entry| entry.bytes.clone())
        };
        for _ in 0..1 + random.below(3) {
            apply(&mut bytes, &random.mutation(), &fields);
        }
        let mut placement = placements
            .get(random.index(placements.len()))
            .cloned()
            .unwrap_or_else(corpus::example_placement);
        let base_pages = random.below(0x10);
        placement.base = placement.base.saturating_add(base_pages * PAGE_SIZE_BYTES);
        if let Ok(plan) = plan(&bytes, &placement) {
            assert_plan_keeps_its_promises(&bytes, &placement, &plan);
        }
    });
}

#[test]
fn plan_never_panics_on_arbitrary_bytes_after_a_valid_identification() {
    let identification = corpus::valid_minimal()
        .get(..16)
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    fuzz(
        "plan_never_panics_on_arbitrary_bytes_after_a_valid_identification",
        |random| {
            let mut bytes = identification.clone();
            let tail_length = random.below(1024);
            bytes.extend((0..tail_length).map(|_| random.next_u64().to_le_bytes()[0]));
            let base = random.next_u64() & !(PAGE_SIZE_BYTES - 1);
            let placement = Placement {
                base,
                allowed: 0..u64::MAX,
            };
            if let Ok(plan) = plan(&bytes, &placement) {
                assert_plan_keeps_its_promises(&bytes, &placement, &plan);
            }
        },
    );
}

/// Returns the minimal image with a `PT_NOTE` program header (in place of its `PT_GNU_STACK`
/// one: the header table has no room for a fifth) over `notes`, appended to the file.
fn with_notes(notes: &[u8]) -> Vec<u8> {
    let mut spec = corpus::ImageSpec::minimal(ET_DYN, 0);
    let length = spec.to_bytes().len() as u64;
    spec.program_headers[3] = ProgramHeader {
        p_type: PT_NOTE,
        p_flags: 4,
        p_offset: length,
        p_vaddr: 0,
        p_paddr: 0,
        p_filesz: notes.len() as u64,
        p_memsz: 0,
        p_align: 4,
    };
    let mut file = spec.to_bytes();
    file.truncate(length as usize);
    file.extend_from_slice(notes);
    file
}

/// Returns one ELF note: name (NUL added, padded to 4), type, descriptor (padded to 4).
fn note(name: &[u8], note_type: u32, descriptor: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&(name.len() as u32 + 1).to_le_bytes());
    bytes.extend_from_slice(&(descriptor.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&note_type.to_le_bytes());
    bytes.extend_from_slice(name);
    bytes.push(0);
    bytes.resize(bytes.len().next_multiple_of(4), 0);
    bytes.extend_from_slice(descriptor);
    bytes.resize(bytes.len().next_multiple_of(4), 0);
    bytes
}

#[test]
fn a_file_without_shoals_note_is_linux_and_with_it_native() {
    let placement = corpus::example_placement();
    assert_eq!(plan(&corpus::valid_minimal(), &placement).expect("valid").personality(), Personality::Linux);
    let version = abi::linux::NOTE_ABI_VERSION.to_le_bytes();
    let shoal = note(abi::linux::NOTE_NAME, abi::linux::NOTE_TYPE_PERSONALITY, &version);
    assert_eq!(plan(&with_notes(&shoal), &placement).expect("valid").personality(), Personality::Native);
    // After another vendor's note, as a linker may order them.
    let mut both = note(b"GNU", 3, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    both.extend_from_slice(&shoal);
    assert_eq!(plan(&with_notes(&both), &placement).expect("valid").personality(), Personality::Native);
    // Near misses are not shoal's note: another type, another version, another name.
    for miss in [
        note(abi::linux::NOTE_NAME, 2, &version),
        note(abi::linux::NOTE_NAME, abi::linux::NOTE_TYPE_PERSONALITY, &2u32.to_le_bytes()),
        note(b"shoa", abi::linux::NOTE_TYPE_PERSONALITY, &version),
        note(b"shoal2", abi::linux::NOTE_TYPE_PERSONALITY, &version),
    ] {
        assert_eq!(plan(&with_notes(&miss), &placement).expect("valid").personality(), Personality::Linux);
    }
    // A malformed note (sizes past the segment) is no note, and no error: the file is foreign.
    let mut broken = shoal.clone();
    broken[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(plan(&with_notes(&broken), &placement).expect("valid").personality(), Personality::Linux);
    assert_eq!(plan(&with_notes(&shoal[..14]), &placement).expect("valid").personality(), Personality::Linux);
}

#[test]
fn program_headers_and_relocation_size_fields_are_located_in_the_image() {
    for placement in placements() {
        let base = placement.base;
        let plan = plan(&corpus::valid_minimal(), &placement).expect("valid");
        // The text segment loads file offset 0 onwards, which holds the table.
        assert_eq!(
            plan.program_headers(),
            Some(ProgramHeaders { address: base + corpus::PROGRAM_HEADERS_OFFSET, count: 4, entry_bytes: SIZEOF_PHDR as u16 })
        );
        // DT_RELASZ is the dynamic table's entry 1, DT_RELACOUNT entry 3; a value is 8 bytes in.
        let fields: Vec<u64> = plan.relocation_size_fields().collect();
        assert_eq!(fields, [base + corpus::DATA_ADDRESS + 16 + 8, base + corpus::DATA_ADDRESS + 3 * 16 + 8]);
    }
}

#[test]
fn glibc_style_irelative_relocations_are_refused_with_a_hint() {
    let mut spec = corpus::ImageSpec::minimal(ET_DYN, 0);
    spec.relocations[0].r_info = u64::from(R_X86_64_IRELATIVE);
    let error = plan(&spec.to_bytes(), &corpus::example_placement()).expect_err("IRELATIVE is refused");
    assert_eq!(error.kind(), "unsupported-relocation");
    assert!(error.to_string().contains("glibc"), "{error}");
}
