//! The phase line format (pinned) and its parser; the geometry line.

use crate::cost::CostCounters;
use crate::counters::{AccessCounters, Counters, FlushCause, InstructionCounts, RegionWalks};
use crate::geometry::Geometry;
use crate::report::{
    GeometryLineError, LineError, PhaseReport, format_geometry_line, parse_geometry_line,
};

/// Returns a report whose counters are 1, 2, 3, ... in key order, so that every key has a
/// distinct value.
fn numbered_report(name: &str) -> PhaseReport {
    let values = core::array::from_fn(|index| index as u64 + 1);
    let cost = core::array::from_fn(|index| index as u64 + 45);
    PhaseReport {
        id: 3,
        name: name.to_owned(),
        counters: Counters::from_values(values),
        instructions: InstructionCounts {
            user: 39,
            kernel: 40,
        },
        region_walks: RegionWalks {
            window: 41,
            private: 42,
            kernel: 43,
        },
        driver_walks: 44,
        cost: CostCounters::from_values(cost),
    }
}

/// The version-1 line of a report: the same without the extra and cost keys.
fn version_1_line(report: &PhaseReport) -> String {
    let line = report.to_line().replace("v=2", "v=1");
    let end = line.find(" instructions.user=").expect("extra keys");
    line[..end].to_owned()
}

#[test]
fn the_phase_line_format_is_pinned() {
    let expected = "tlbsim phase v=2 id=3 name=density-n64 \
        i.accesses=1 i.l1_hits=2 i.l1_misses=3 i.stlb_hits=4 i.stlb_misses=5 i.walks_4k=6 \
        i.walks_2m=7 i.walks_1g=8 i.faulting_walks=9 i.walk_memory_references=10 \
        i.non_canonical=11 \
        d.accesses=12 d.l1_hits=13 d.l1_misses=14 d.stlb_hits=15 d.stlb_misses=16 d.walks_4k=17 \
        d.walks_2m=18 d.walks_1g=19 d.faulting_walks=20 d.walk_memory_references=21 \
        d.non_canonical=22 \
        cr3_writes=23 cr4_writes=24 \
        flush.cr3_write.events=25 flush.cr3_write.entries_removed=26 \
        flush.cr4_write.events=27 flush.cr4_write.entries_removed=28 \
        flush.invlpg.events=29 flush.invlpg.entries_removed=30 \
        flush.invpcid0.events=31 flush.invpcid0.entries_removed=32 \
        flush.invpcid1.events=33 flush.invpcid1.entries_removed=34 \
        flush.invpcid2.events=35 flush.invpcid2.entries_removed=36 \
        flush.invpcid3.events=37 flush.invpcid3.entries_removed=38 \
        instructions.user=39 instructions.kernel=40 \
        walks.window=41 walks.private=42 walks.kernel=43 walks.driver=44 \
        cost.walks=45 cost.faulting_walks=46 cost.psc_hits.pml4e=47 cost.psc_hits.pdpte=48 \
        cost.psc_hits.pde=49 cost.psc_misses=50 cost.skipped.pml4e=51 cost.skipped.pdpte=52 \
        cost.skipped.pde=53 cost.refs.l1d=54 cost.refs.l2=55 cost.refs.llc=56 \
        cost.refs.memory=57 cost.walk_cycles=58 cost.data.l1d=59 cost.data.l2=60 \
        cost.data.llc=61 cost.data.memory=62 cost.psc_invalidations=63 \
        cost.psc_entries_removed=64";
    let report = numbered_report("density-n64");
    assert_eq!(report.to_line(), expected);
    assert_eq!(report.counters.data.walks_4k, 17);
    assert_eq!(
        report.counters.flush(FlushCause::Invlpg).entries_removed,
        30
    );
    assert_eq!(report.cost.walk_cycles, 58);
    assert_eq!(PhaseReport::parse_line(expected), Ok(report));
}

#[test]
fn version_1_lines_are_still_read_with_zero_extras() {
    let report = numbered_report("old");
    let line = version_1_line(&report);
    assert!(line.ends_with("flush.invpcid3.entries_removed=38"), "{line}");
    let parsed = PhaseReport::parse_line(&line).expect("a version-1 line");
    assert_eq!(parsed.counters, report.counters);
    assert_eq!(parsed.instructions, InstructionCounts::default());
    assert_eq!(parsed.region_walks, RegionWalks::default());
    assert_eq!(parsed.driver_walks, 0);
    assert_eq!(parsed.cost, CostCounters::default());
    // A version-1 line with a version-2 key, or a version-2 line without one, is refused.
    assert_eq!(
        PhaseReport::parse_line(&format!("{line} walks.window=1")),
        Err(LineError::UnknownKey("walks.window".to_owned()))
    );
    assert_eq!(
        PhaseReport::parse_line(&report.to_line().replace(" cost.walk_cycles=58", "")),
        Err(LineError::MissingKey("cost.walk_cycles"))
    );
}

#[test]
fn version_2_lines_written_before_walks_driver_are_still_read() {
    let report = numbered_report("before-driver");
    let line = report.to_line().replace(" walks.driver=44", "");
    let parsed = PhaseReport::parse_line(&line).expect("a version-2 line without walks.driver");
    assert_eq!(
        parsed,
        PhaseReport {
            driver_walks: 0,
            ..report.clone()
        }
    );
    // Optional does not mean anything goes: twice is refused, and version 1 does not know it.
    assert_eq!(
        PhaseReport::parse_line(&format!("{} walks.driver=1", report.to_line())),
        Err(LineError::DuplicateKey("walks.driver".to_owned()))
    );
    assert_eq!(
        PhaseReport::parse_line(&format!("{} walks.driver=1", version_1_line(&report))),
        Err(LineError::UnknownKey("walks.driver".to_owned()))
    );
}

#[test]
fn counter_keys_follow_the_field_and_cause_names() {
    let mut keys = Vec::new();
    for prefix in ["i", "d"] {
        keys.extend(
            AccessCounters::NAMES
                .iter()
                .map(|name| format!("{prefix}.{name}")),
        );
    }
    keys.push("cr3_writes".to_owned());
    keys.push("cr4_writes".to_owned());
    for cause in FlushCause::ALL {
        assert_eq!(FlushCause::ALL[cause.index()], cause);
        keys.push(format!("flush.{}.events", cause.key()));
        keys.push(format!("flush.{}.entries_removed", cause.key()));
    }
    assert_eq!(keys, Counters::KEYS);
}

#[test]
fn names_with_special_bytes_are_escaped_and_restored() {
    let report = numbered_report("boot phase=1 50% \u{e9}");
    let line = report.to_line();
    assert!(
        line.starts_with(
            "tlbsim phase v=2 id=3 name=boot%20phase%3D1%2050%25%20%C3%A9 i.accesses=1 "
        )
    );
    assert_eq!(PhaseReport::parse_line(&format!("{line}\n")), Ok(report));
    let empty = numbered_report("");
    assert!(empty.to_line().contains(" name= "));
    assert_eq!(PhaseReport::parse_line(&empty.to_line()), Ok(empty));
}

#[test]
fn the_parser_accepts_any_field_order() {
    let report = numbered_report("x");
    let line = report.to_line();
    let fields: Vec<&str> = line
        .strip_prefix("tlbsim phase ")
        .unwrap()
        .split(' ')
        .rev()
        .collect();
    let reversed = format!("tlbsim phase {}", fields.join(" "));
    assert_eq!(PhaseReport::parse_line(&reversed), Ok(report));
}

#[test]
fn the_parser_refuses_malformed_lines() {
    let line = numbered_report("x").to_line();
    let cases: [(String, LineError); 8] = [
        (
            line.replace("tlbsim phase", "tlbsim phaze"),
            LineError::MissingPrefix,
        ),
        (
            line.replace("v=2", "v=3"),
            LineError::UnsupportedVersion("3".to_owned()),
        ),
        (
            line.replace(" cr4_writes=24", ""),
            LineError::MissingKey("cr4_writes"),
        ),
        (
            format!("{line} extra=1"),
            LineError::UnknownKey("extra".to_owned()),
        ),
        (
            format!("{line} d.walks_4k=1"),
            LineError::DuplicateKey("d.walks_4k".to_owned()),
        ),
        (
            line.replace("d.walks_4k=17", "d.walks_4k=-1"),
            LineError::BadNumber {
                key: "d.walks_4k".to_owned(),
                value: "-1".to_owned(),
            },
        ),
        (
            line.replace("name=x", "name=a%2"),
            LineError::BadName("a%2".to_owned()),
        ),
        (
            line.replace(" cr3_writes=23", " cr3_writes"),
            LineError::MalformedField("cr3_writes".to_owned()),
        ),
    ];
    for (bad, error) in cases {
        assert_eq!(PhaseReport::parse_line(&bad), Err(error), "line {bad}");
    }
    assert!(PhaseReport::is_phase_line(&line));
    assert!(!PhaseReport::is_phase_line("shoal bench id=3"));
}

#[test]
fn the_geometry_line_round_trips() {
    let geometry = Geometry::from_preset("golden-cove").unwrap();
    let line = format_geometry_line(&geometry);
    assert_eq!(
        line,
        "tlbsim geometry v=1 verified=0 itlb=256x8:4k+32x8:2m dtlb=96x6:4k+32x4:2m+8x8:1g \
         stlb=2048x16:4k/2m+1024x8:1g"
    );
    let (parsed, verified) = parse_geometry_line(&line).unwrap();
    assert!(!verified);
    assert_eq!(parsed.to_string(), geometry.to_string());
    assert!(matches!(
        parse_geometry_line("tlbsim geometry v=1 verified=1 itlb=none dtlb=none"),
        Err(GeometryLineError::Geometry(_))
    ));
}
