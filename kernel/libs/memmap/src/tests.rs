//! Host tests for the memory-map functions, including a randomized comparison against a
//! per-byte-unit model of a small address space.

use super::*;

const PAGE: u64 = PAGE_SIZE_BYTES;

fn usable(start: u64, end: u64) -> Region {
    Region {
        start,
        end,
        kind: RegionKind::Usable,
    }
}

fn reserved(start: u64, end: u64) -> Region {
    Region {
        start,
        end,
        kind: RegionKind::Reserved,
    }
}

fn range(start: u64, end: u64) -> PhysRange {
    PhysRange { start, end }
}

/// Runs [`usable_ranges`] with ample output space and returns the ranges.
fn ranges_of(regions: &[Region], reservations: &[PhysRange]) -> Vec<PhysRange> {
    let mut out = [range(0, 0); 64];
    let count = usable_ranges(regions, reservations, &mut out).unwrap();
    out[..count].to_vec()
}

/// A 64-bit xorshift generator, so randomized tests are reproducible without dependencies.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Returns a value in `0..bound` (`bound > 0`).
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

#[test]
fn phys_range_queries() {
    let r = range(0x1000, 0x3000);
    assert_eq!(r.len_bytes(), 0x2000);
    assert!(!r.is_empty());
    assert!(r.contains(0x1000));
    assert!(r.contains(0x2fff));
    assert!(!r.contains(0x3000));
    assert!(!r.contains(0xfff));
    assert!(r.overlaps(&range(0x2fff, 0x4000)));
    assert!(
        !r.overlaps(&range(0x3000, 0x4000)),
        "adjacent ranges do not overlap"
    );
    assert!(!r.overlaps(&range(0, 0x1000)));
    assert!(r.overlaps(&range(0, 0x10000)));
    assert!(
        !r.overlaps(&range(0x2000, 0x2000)),
        "empty ranges overlap nothing"
    );
    assert!(!range(0x2000, 0x2000).overlaps(&r));
    assert_eq!(range(5, 3).len_bytes(), 0);
    assert!(range(5, 3).is_empty());
    assert!(range(5, 5).is_empty());
}

#[test]
fn no_regions_yield_nothing() {
    let mut out = [];
    assert_eq!(usable_ranges(&[], &[], &mut out), Ok(0));
    assert_eq!(
        usable_ranges(&[reserved(0, 0x10000)], &[range(0, 0x1000)], &mut out),
        Ok(0)
    );
}

#[test]
fn unsorted_and_overlapping_usable_regions_merge() {
    let regions = [
        usable(0x20000, 0x30000),
        usable(0x5000, 0x9000),
        usable(0x1000, 0x6000),
        usable(0x2000, 0x3000),
    ];
    assert_eq!(
        ranges_of(&regions, &[]),
        vec![range(0x1000, 0x9000), range(0x20000, 0x30000)]
    );
}

#[test]
fn adjacent_usable_regions_merge() {
    assert_eq!(
        ranges_of(&[usable(0x2000, 0x3000), usable(0x1000, 0x2000)], &[]),
        vec![range(0x1000, 0x3000)]
    );
    // Merging happens before rounding: the page 0x1000..0x2000 is fully usable.
    assert_eq!(
        ranges_of(&[usable(0x1000, 0x1800), usable(0x1800, 0x3000)], &[]),
        vec![range(0x1000, 0x3000)]
    );
}

#[test]
fn zero_length_regions_are_ignored() {
    let regions = [
        usable(0x3000, 0x3000),
        usable(0x1000, 0x4000),
        reserved(0x2000, 0x2000),
        Region {
            start: 0x2800,
            end: 0x2800,
            kind: RegionKind::Bootloader,
        },
        usable(0x8000, 0x8000),
    ];
    assert_eq!(
        ranges_of(&regions, &[range(0x3000, 0x3000)]),
        vec![range(0x1000, 0x4000)]
    );
}

#[test]
fn unaligned_edges_round_inward() {
    assert_eq!(ranges_of(&[usable(0x1001, 0x2fff)], &[]), vec![]);
    assert_eq!(
        ranges_of(&[usable(0x1001, 0x4fff)], &[]),
        vec![range(0x2000, 0x4000)]
    );
    assert_eq!(ranges_of(&[usable(0x1000, 0x1fff)], &[]), vec![]);
    assert_eq!(
        ranges_of(&[usable(0xfff, 0x2001)], &[]),
        vec![range(0x1000, 0x2000)]
    );
}

#[test]
fn reserved_region_in_the_middle_splits() {
    assert_eq!(
        ranges_of(&[usable(0, 0x10000), reserved(0x4000, 0x5000)], &[]),
        vec![range(0, 0x4000), range(0x5000, 0x10000)]
    );
    // An unaligned hole takes its whole page.
    assert_eq!(
        ranges_of(&[usable(0, 0x10000), reserved(0x4800, 0x4900)], &[]),
        vec![range(0, 0x4000), range(0x5000, 0x10000)]
    );
}

#[test]
fn every_non_usable_kind_wins_over_usable() {
    for kind in [
        RegionKind::Bootloader,
        RegionKind::UnknownBios(2),
        RegionKind::UnknownUefi(7),
        RegionKind::Reserved,
    ] {
        let regions = [
            usable(0, 0x10000),
            Region {
                start: 0xf000,
                end: 0x12000,
                kind,
            },
            Region {
                start: 0,
                end: 0x1000,
                kind,
            },
        ];
        assert_eq!(
            ranges_of(&regions, &[]),
            vec![range(0x1000, 0xf000)],
            "{kind:?}"
        );
    }
    // A non-usable region listed first still wins.
    let regions = [reserved(0x2000, 0x3000), usable(0x1000, 0x5000)];
    assert_eq!(
        ranges_of(&regions, &[]),
        vec![range(0x1000, 0x2000), range(0x3000, 0x5000)]
    );
}

#[test]
fn reservations_are_carved_out() {
    let regions = [usable(0x10_0000, 0x80_0000)];
    let reservations = [
        range(0x20_0000, 0x30_0123), // kernel image, unaligned end
        range(0x0, 0x10_0800),       // overlaps the start
        range(0x7f_f000, 0x90_0000), // overlaps the end
        range(0x40_0000, 0x40_1000), // one page
    ];
    assert_eq!(
        ranges_of(&regions, &reservations),
        vec![
            range(0x10_1000, 0x20_0000),
            range(0x30_1000, 0x40_0000),
            range(0x40_1000, 0x7f_f000)
        ]
    );
    assert_eq!(ranges_of(&regions, &[range(0, u64::MAX)]), vec![]);
}

#[test]
fn out_too_small_reports_how_many_were_needed() {
    let regions = [
        usable(0, 0x10000),
        reserved(0x4000, 0x5000),
        reserved(0x8000, 0x9000),
    ];
    let mut out = [range(0, 0); 2];
    let error = usable_ranges(&regions, &[], &mut out).unwrap_err();
    assert_eq!(
        error,
        MemmapError::OutTooSmall {
            capacity: 2,
            needed: 3
        }
    );
    assert_eq!(
        error.to_string(),
        "the memory map yields 3 usable ranges but the output holds only 2"
    );
    assert_eq!(out, [range(0, 0x4000), range(0x5000, 0x8000)]);
    let mut out = [range(0, 0); 3];
    assert_eq!(usable_ranges(&regions, &[], &mut out), Ok(3));
    // Regions that round away entirely need no space.
    let mut out = [];
    assert_eq!(
        usable_ranges(
            &[usable(0x1001, 0x2fff), usable(0x5000, 0x5000)],
            &[],
            &mut out
        ),
        Ok(0)
    );
}

#[test]
fn inverted_entries_are_refused() {
    let mut out = [range(0, 0); 4];
    let regions = [usable(0, 0x1000), reserved(0x3000, 0x2000)];
    let error = usable_ranges(&regions, &[], &mut out).unwrap_err();
    assert_eq!(
        error,
        MemmapError::InvertedRegion {
            index: 1,
            start: 0x3000,
            end: 0x2000
        }
    );
    assert_eq!(
        error.to_string(),
        "memory-map region 1 ends before it starts (0x3000..0x2000)"
    );
    let error = usable_ranges(&regions[..1], &[range(0, 0), range(9, 8)], &mut out).unwrap_err();
    assert_eq!(
        error,
        MemmapError::InvertedReservation {
            index: 1,
            start: 9,
            end: 8
        }
    );
    assert_eq!(
        error.to_string(),
        "reservation 1 ends before it starts (0x9..0x8)"
    );
}

#[test]
fn usable_region_at_the_top_of_the_address_space_overflows() {
    let mut out = [range(0, 0); 4];
    let top = usable(u64::MAX - 100, u64::MAX);
    let error = usable_ranges(&[usable(0, 0x1000), top], &[], &mut out).unwrap_err();
    assert_eq!(
        error,
        MemmapError::AddressOverflow {
            index: 1,
            start: u64::MAX - 100,
            end: u64::MAX
        }
    );
    // The highest page-aligned end is fine, and non-usable regions up there are harmless.
    let highest_page = u64::MAX - (PAGE - 1) - PAGE;
    let regions = [
        usable(highest_page, highest_page + PAGE),
        reserved(u64::MAX - 5, u64::MAX),
    ];
    assert_eq!(
        ranges_of(&regions, &[]),
        vec![range(highest_page, highest_page + PAGE)]
    );
}

#[test]
fn physical_end_rounds_up_the_highest_end() {
    assert_eq!(physical_end(&[]), 0);
    assert_eq!(
        physical_end(&[reserved(0xfd00_0000, 0xfd00_1234), usable(0, 0x9f000)]),
        0xfd00_2000
    );
    assert_eq!(physical_end(&[usable(0, 0x8000_0000)]), 0x8000_0000);
    // Zero-length regions are not memory; inverted ones are ignored too.
    assert_eq!(
        physical_end(&[usable(0, 0x1000), reserved(0x9000, 0x9000)]),
        0x1000
    );
    assert_eq!(physical_end(&[reserved(0x9000, 0x100)]), 0);
    assert_eq!(physical_end(&[reserved(0, u64::MAX)]), u64::MAX);
}

#[test]
fn total_bytes_sums_lengths() {
    assert_eq!(total_bytes(&[]), 0);
    assert_eq!(
        total_bytes(&[range(0, 0x4000), range(0x5000, 0x8000), range(9, 9)]),
        0x7000
    );
    assert_eq!(total_bytes(&[range(0, u64::MAX), range(0, 2)]), u64::MAX);
}

/// Units of this many bytes make up the model; a page holds `PAGE / UNIT_BYTES` of them.
const UNIT_BYTES: u64 = 256;
/// Pages in the randomized address space.
const MODEL_PAGES: u64 = 32;
const MODEL_UNITS: u64 = MODEL_PAGES * PAGE / UNIT_BYTES;

/// Returns a random interval in the model's address space: mostly unit-aligned, sometimes
/// page-aligned, sometimes empty, sometimes running past the end of the space.
fn random_interval(random: &mut XorShift) -> PhysRange {
    let start_unit = random.below(MODEL_UNITS + 4);
    let length_units = match random.below(6) {
        0 => 0,
        1 => random.below(4),
        _ => random.below(MODEL_UNITS / 2),
    };
    let mut start = start_unit * UNIT_BYTES;
    let mut end = (start_unit + length_units) * UNIT_BYTES;
    if random.below(3) == 0 {
        start -= start % PAGE;
        end -= end % PAGE;
        end = end.max(start);
    }
    range(start, end)
}

#[test]
fn random_maps_match_a_per_page_model() {
    const CASES: usize = 1000;
    let kinds = [
        RegionKind::Bootloader,
        RegionKind::UnknownBios(1),
        RegionKind::UnknownUefi(3),
        RegionKind::Reserved,
    ];
    let mut random = XorShift(0x0123_4567_89ab_cdef);
    let mut nonempty_outputs = 0;
    let mut multi_range_outputs = 0;

    for case in 0..CASES {
        let mut regions = Vec::new();
        for _ in 0..random.below(10) {
            let interval = random_interval(&mut random);
            // Two in three regions are usable so that output is rarely empty.
            let kind = if random.below(3) == 0 {
                kinds[random.below(kinds.len() as u64) as usize]
            } else {
                RegionKind::Usable
            };
            regions.push(Region {
                start: interval.start,
                end: interval.end,
                kind,
            });
        }
        let reservations: Vec<PhysRange> = (0..random.below(4))
            .map(|_| random_interval(&mut random))
            .collect();

        // The model: a unit is usable when a usable region covers it and nothing else does.
        let unit_count = (MODEL_UNITS + MODEL_UNITS) as usize;
        let mut covered = vec![false; unit_count];
        let mut blocked = vec![false; unit_count];
        for region in &regions {
            let target = if region.kind == RegionKind::Usable {
                &mut covered
            } else {
                &mut blocked
            };
            target[(region.start / UNIT_BYTES) as usize..(region.end / UNIT_BYTES) as usize]
                .fill(true);
        }
        for reservation in &reservations {
            blocked[(reservation.start / UNIT_BYTES) as usize
                ..(reservation.end / UNIT_BYTES) as usize]
                .fill(true);
        }
        let units_per_page = (PAGE / UNIT_BYTES) as usize;
        let page_usable: Vec<bool> = (0..unit_count / units_per_page)
            .map(|page| {
                (page * units_per_page..(page + 1) * units_per_page)
                    .all(|unit| covered[unit] && !blocked[unit])
            })
            .collect();
        let mut expected = Vec::new();
        for (page, &usable) in page_usable.iter().enumerate() {
            let start = page as u64 * PAGE;
            match expected.last_mut() {
                Some(PhysRange { end, .. }) if usable && *end == start => *end += PAGE,
                _ if usable => expected.push(range(start, start + PAGE)),
                _ => {}
            }
        }

        let mut out = [range(0, 0); 32];
        let count = usable_ranges(&regions, &reservations, &mut out)
            .unwrap_or_else(|error| panic!("case {case}: {error}"));
        let got = &out[..count];
        assert_eq!(
            got,
            expected.as_slice(),
            "case {case}: {regions:?} minus {reservations:?}"
        );

        // The stated invariants, checked directly as well.
        for (index, output) in got.iter().enumerate() {
            assert_eq!(output.start % PAGE, 0);
            assert_eq!(output.end % PAGE, 0);
            assert!(!output.is_empty());
            if index > 0 {
                assert!(
                    got[index - 1].end < output.start,
                    "case {case}: not sorted and separate"
                );
            }
            for reservation in &reservations {
                assert!(
                    !output.overlaps(reservation),
                    "case {case}: {output:?} {reservation:?}"
                );
            }
            for region in regions
                .iter()
                .filter(|region| region.kind != RegionKind::Usable)
            {
                let blocked = range(region.start, region.end);
                assert!(
                    !output.overlaps(&blocked),
                    "case {case}: {output:?} {region:?}"
                );
            }
        }
        if count > 0 {
            nonempty_outputs += 1;
            // One too small an output reports the exact count.
            let mut short = vec![range(0, 0); count - 1];
            assert_eq!(
                usable_ranges(&regions, &reservations, &mut short),
                Err(MemmapError::OutTooSmall {
                    capacity: count - 1,
                    needed: count
                })
            );
        }
        if count > 1 {
            multi_range_outputs += 1;
        }
    }
    // The generator produced interesting cases, not just empty maps.
    assert!(
        nonempty_outputs > CASES / 2,
        "{nonempty_outputs} non-empty outputs"
    );
    assert!(
        multi_range_outputs > CASES / 10,
        "{multi_range_outputs} multi-range outputs"
    );
}
