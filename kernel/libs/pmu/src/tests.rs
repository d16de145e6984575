//! Host tests: CPUID decoding, every encoding of the table, and the plans for real CPU fact sets.
//!
//! The CPUID values are those the manuals define for each CPU kind (or QEMU's answers), written
//! out register by register so each test also exercises [`CpuFacts::decode`].

use super::*;
use crate::encoding::*;

/// Returns leaf 0 for `vendor` with highest basic leaf `max`.
fn vendor_leaf(max: u32, vendor: &[u8; 12]) -> CpuidLeaf {
    let word = |range: core::ops::Range<usize>| {
        u32::from_le_bytes(vendor[range].try_into().expect("4 bytes"))
    };
    CpuidLeaf {
        eax: max,
        ebx: word(0..4),
        edx: word(4..8),
        ecx: word(8..12),
    }
}

/// Returns a leaf with only EAX set.
fn eax(value: u32) -> CpuidLeaf {
    CpuidLeaf {
        eax: value,
        ..CpuidLeaf::default()
    }
}

/// `CPUID.1:ECX[31]`, the hypervisor bit.
const HYPERVISOR_BIT: u32 = 1 << 31;
/// `CPUID.8000_0001:ECX[23]`, PerfCtrExtCore.
const PERF_CTR_EXT_CORE: u32 = 1 << 23;

/// Intel Core Duo (Yonah, family 6 model 0x0E): architectural perfmon version 1, two 40-bit
/// counters, a 7-bit event vector, no fixed counters.
fn intel_v1_two_counters() -> RawCpuid {
    RawCpuid {
        leaf_0: vendor_leaf(0xa, b"GenuineIntel"),
        leaf_1: eax(0x0000_06e8),
        leaf_0a: CpuidLeaf {
            eax: 0x0728_0201,
            ..CpuidLeaf::default()
        },
        leaf_8000_0000: eax(0x8000_0008),
        ..RawCpuid::default()
    }
}

/// A Skylake client (family 6 model 0x5E) with `general` general-purpose counters
/// (4 with Hyper-Threading on, 8 with it off): version 4, 48-bit counters, 3 fixed counters.
fn intel_skylake(general: u32) -> RawCpuid {
    RawCpuid {
        leaf_0: vendor_leaf(0x16, b"GenuineIntel"),
        leaf_1: eax(0x0005_06e3),
        leaf_0a: CpuidLeaf {
            eax: 0x0730_0004 | general << 8,
            ebx: 0,
            ecx: 0,
            edx: 0x0000_0603,
        },
        leaf_8000_0000: eax(0x8000_0008),
        ..RawCpuid::default()
    }
}

/// Sapphire Rapids (family 6 model 0x8F): version 5, 8 counters, 4 fixed counters (ECX mask 0xF).
fn intel_sapphire_rapids() -> RawCpuid {
    RawCpuid {
        leaf_0: vendor_leaf(0x20, b"GenuineIntel"),
        leaf_1: eax(0x0008_06f8),
        leaf_0a: CpuidLeaf {
            eax: 0x0830_0805,
            ebx: 0,
            ecx: 0x0000_000f,
            edx: 0x0000_0604,
        },
        leaf_8000_0000: eax(0x8000_0008),
        ..RawCpuid::default()
    }
}

/// Alder Lake (family 6 model 0x97), hybrid, the CPUID run on a core of type `core_type`
/// (leaf 0x1A `EAX[31:24]`).
fn intel_alder_lake(core_type: u32) -> RawCpuid {
    RawCpuid {
        leaf_0: vendor_leaf(0x20, b"GenuineIntel"),
        leaf_1: eax(0x0009_0672),
        leaf_7: CpuidLeaf {
            edx: 1 << 15,
            ..CpuidLeaf::default()
        },
        leaf_0a: CpuidLeaf {
            eax: 0x0830_0805,
            ebx: 0,
            ecx: 0x0000_0007,
            edx: 0x0000_0603,
        },
        leaf_1a: eax(core_type << 24 | 1),
        leaf_8000_0000: eax(0x8000_0008),
        ..RawCpuid::default()
    }
}

/// An AMD family 10h CPU on bare metal: legacy counters only.
fn amd_family_10h(hypervisor: bool) -> RawCpuid {
    RawCpuid {
        leaf_0: vendor_leaf(0x5, b"AuthenticAMD"),
        leaf_1: CpuidLeaf {
            eax: 0x0010_0f22,
            ecx: if hypervisor { HYPERVISOR_BIT } else { 0 },
            ..CpuidLeaf::default()
        },
        leaf_8000_0000: eax(0x8000_001b),
        ..RawCpuid::default()
    }
}

/// QEMU TCG's `-cpu max` as shoal's boot log shows it: AuthenticAMD family 6 model 6, the
/// hypervisor bit, no PerfCtrExtCore.
fn qemu_tcg_max() -> RawCpuid {
    RawCpuid {
        leaf_0: vendor_leaf(0xd, b"AuthenticAMD"),
        leaf_1: CpuidLeaf {
            eax: 0x0000_0663,
            ecx: HYPERVISOR_BIT,
            ..CpuidLeaf::default()
        },
        leaf_8000_0000: eax(0x8000_0008),
        ..RawCpuid::default()
    }
}

/// An AMD CPU with PerfCtrExtCore and no PerfMonV2, of family/model signature `signature`.
fn amd_extended_core(signature: u32) -> RawCpuid {
    RawCpuid {
        leaf_0: vendor_leaf(0x10, b"AuthenticAMD"),
        leaf_1: eax(signature),
        leaf_8000_0000: eax(0x8000_0020),
        leaf_8000_0001: CpuidLeaf {
            ecx: PERF_CTR_EXT_CORE,
            ..CpuidLeaf::default()
        },
        ..RawCpuid::default()
    }
}

/// AMD Zen 4 (family 19h model 11h) with PerfMonV2 reporting `counters` core counters
/// (`EBX[3:0]`; EBX also carries the LBR stack size 16 and 4 northbridge counters).
fn amd_zen4_perfmon_v2(counters: u32) -> RawCpuid {
    RawCpuid {
        leaf_0: vendor_leaf(0x10, b"AuthenticAMD"),
        leaf_1: eax(0x00a1_0f11),
        leaf_8000_0000: eax(0x8000_0028),
        leaf_8000_0001: CpuidLeaf {
            ecx: PERF_CTR_EXT_CORE,
            ..CpuidLeaf::default()
        },
        leaf_8000_0022: CpuidLeaf {
            eax: 0b11,
            ebx: 4 << 10 | 16 << 4 | counters,
            ..CpuidLeaf::default()
        },
        ..RawCpuid::default()
    }
}

/// Plans for `raw`.
fn plan_for(raw: RawCpuid) -> Result<Plan, Unavailable> {
    plan(&CpuFacts::decode(&raw))
}

/// Returns the plan's events as (name, slot, width).
fn slots(plan: &Plan) -> Vec<(&'static str, Slot, u8)> {
    plan.planned()
        .map(|planned| (planned.event.name, planned.slot, planned.width_bits))
        .collect()
}

/// Returns a general-purpose slot.
fn general(index: u8, select_msr: u32, counter_msr: u32, select: u64) -> Slot {
    Slot::General {
        index,
        select_msr,
        counter_msr,
        select,
    }
}

#[test]
fn select_bits_are_those_of_the_manuals() {
    assert_eq!(SELECT_USR, 0x1_0000);
    assert_eq!(SELECT_OS, 0x2_0000);
    assert_eq!(SELECT_ENABLE, 0x40_0000);
    assert_eq!(SELECT_FLAGS, 0x43_0000);
}

#[test]
fn perf_event_select_places_every_field() {
    assert_eq!(perf_event_select(0x3c, 0x00, SELECT_FLAGS), 0x0043_003c);
    assert_eq!(perf_event_select(0x08, 0x0e, SELECT_USR), 0x0001_0e08);
    assert_eq!(perf_event_select(0x08, 0x0e, SELECT_OS), 0x0002_0e08);
    assert_eq!(perf_event_select(0x08, 0x0e, 0), 0x0000_0e08);
    // AMD extended event select: bits 11:8 go to PerfEvtSel 35:32 (PMCx18E, an IC event of Zen 3).
    assert_eq!(perf_event_select(0x18e, 0x1f, SELECT_FLAGS), 0x1_0043_1f8e);
    assert_eq!(perf_event_select(0xfff, 0xff, SELECT_FLAGS), 0xf_0043_ffff);
    // Flags other than USR, OS and EN (here INT, bit 20, and edge, bit 18) are dropped.
    assert_eq!(
        perf_event_select(0x76, 0x00, SELECT_FLAGS | 1 << 20 | 1 << 18),
        0x0043_0076
    );
}

#[test]
fn every_table_encoding_is_exact() {
    let expected: [(&str, Vendor, u64); 20] = [
        ("cycles", Vendor::Intel, 0x0043_003c),
        ("cycles", Vendor::Amd, 0x0043_0076),
        ("instructions", Vendor::Intel, 0x0043_00c0),
        ("instructions", Vendor::Amd, 0x0043_00c0),
        ("itlb_walks", Vendor::Intel, 0x0043_0e85),
        ("itlb_walks", Vendor::Intel, 0x0043_0e11),
        ("itlb_walks", Vendor::Amd, 0x0043_0f85),
        ("dtlb_load_walks", Vendor::Intel, 0x0043_0e08),
        ("dtlb_load_walks", Vendor::Intel, 0x0043_0e12),
        ("dtlb_walks", Vendor::Amd, 0x0043_f045),
        ("dtlb_store_walks", Vendor::Intel, 0x0043_0e49),
        ("dtlb_store_walks", Vendor::Intel, 0x0043_0e13),
        ("itlb_stlb_hits", Vendor::Intel, 0x0043_2085),
        ("itlb_stlb_hits", Vendor::Intel, 0x0043_2011),
        ("itlb_l2_hits", Vendor::Amd, 0x0043_0084),
        ("dtlb_load_stlb_hits", Vendor::Intel, 0x0043_2008),
        ("dtlb_load_stlb_hits", Vendor::Intel, 0x0043_2012),
        ("dtlb_l2_hits", Vendor::Amd, 0x0043_0f45),
        ("dtlb_store_stlb_hits", Vendor::Intel, 0x0043_2049),
        ("dtlb_store_stlb_hits", Vendor::Intel, 0x0043_2013),
    ];
    assert_eq!(EVENTS.len(), expected.len());
    for (event, (name, vendor, select)) in EVENTS.iter().zip(expected) {
        assert_eq!(event.name, name);
        assert_eq!(event.applies.vendor(), vendor, "{name}");
        assert_eq!(
            perf_event_select(event.event_select, event.unit_mask, SELECT_FLAGS),
            select,
            "{name} ({})",
            event.vendor_name
        );
    }
}

#[test]
fn table_rows_are_well_formed() {
    for event in &EVENTS {
        assert!(
            event
                .name
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_'),
            "{}",
            event.name
        );
        assert!(
            !event.vendor_name.is_empty() && !event.source.is_empty(),
            "{}",
            event.name
        );
        if event.applies.vendor() == Vendor::Intel {
            assert!(
                event.event_select <= 0xff,
                "Intel selects are 8 bits: {}",
                event.name
            );
        } else {
            assert!(
                event.event_select <= 0xfff,
                "AMD selects are 12 bits: {}",
                event.name
            );
            assert_eq!(
                event.fixed_counter, None,
                "AMD has no fixed counters: {}",
                event.name
            );
        }
    }
    // Only the two architectural events have fixed counters: instructions 0, cycles 1.
    let fixed: Vec<_> = EVENTS
        .iter()
        .filter_map(|event| event.fixed_counter.map(|index| (event.name, index)))
        .collect();
    assert_eq!(fixed, [("cycles", 1), ("instructions", 0)]);
}

#[test]
fn at_most_one_row_per_name_applies_to_any_cpu() {
    let cpus = [
        (Vendor::Intel, None),
        (Vendor::Intel, Some(Microarchitecture::Skylake)),
        (Vendor::Intel, Some(Microarchitecture::IceLake)),
        (Vendor::Intel, Some(Microarchitecture::GoldenCove)),
        (Vendor::Intel, Some(Microarchitecture::Gracemont)),
        (Vendor::Amd, None),
        (Vendor::Amd, Some(Microarchitecture::Zen1)),
        (Vendor::Amd, Some(Microarchitecture::Zen2)),
        (Vendor::Amd, Some(Microarchitecture::Zen3)),
        (Vendor::Amd, Some(Microarchitecture::Zen4)),
        (Vendor::Amd, Some(Microarchitecture::Zen5)),
    ];
    for (vendor, microarchitecture) in cpus {
        let names: Vec<_> = EVENTS
            .iter()
            .filter(|event| event.applies.matches(vendor, microarchitecture))
            .map(|event| event.name)
            .collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            unique.len(),
            names.len(),
            "{vendor:?} {microarchitecture:?}: {names:?}"
        );
        assert!(
            names.len() <= MAX_PLANNED,
            "{vendor:?} {microarchitecture:?}"
        );
    }
}

#[test]
fn msr_addresses_are_those_of_the_manuals() {
    assert_eq!(
        (IA32_PMC0, IA32_PERFEVTSEL0, IA32_FIXED_CTR0),
        (0xc1, 0x186, 0x309)
    );
    assert_eq!((IA32_FIXED_CTR_CTRL, IA32_PERF_GLOBAL_CTRL), (0x38d, 0x38f));
    assert_eq!(
        (
            CounterBank::Intel.select_msr(7),
            CounterBank::Intel.counter_msr(7)
        ),
        (0x18d, 0xc8)
    );
    assert_eq!(
        (
            encoding::fixed_counter_msr(1),
            encoding::fixed_counter_msr(2)
        ),
        (0x30a, 0x30b)
    );
    assert_eq!(
        (
            CounterBank::AmdLegacy.select_msr(0),
            CounterBank::AmdLegacy.counter_msr(0)
        ),
        (0xc001_0000, 0xc001_0004)
    );
    assert_eq!(
        (
            CounterBank::AmdLegacy.select_msr(3),
            CounterBank::AmdLegacy.counter_msr(3)
        ),
        (0xc001_0003, 0xc001_0007)
    );
    assert_eq!(
        (
            CounterBank::AmdExtendedCore.select_msr(0),
            CounterBank::AmdExtendedCore.counter_msr(0)
        ),
        (0xc001_0200, 0xc001_0201)
    );
    assert_eq!(
        (
            CounterBank::AmdExtendedCore.select_msr(5),
            CounterBank::AmdExtendedCore.counter_msr(5)
        ),
        (0xc001_020a, 0xc001_020b)
    );
    assert_eq!(AMD_PERF_CNTR_GLOBAL_CTL, 0xc000_0301);
}

#[test]
fn counter_width_masks_and_wraps() {
    assert_eq!(counter_mask(40), 0xff_ffff_ffff);
    assert_eq!(counter_mask(48), 0xffff_ffff_ffff);
    assert_eq!(counter_mask(64), u64::MAX);
    assert_eq!(counter_mask(0), 0);
    assert_eq!(counter_delta(100, 350, 48), 250);
    // A 48-bit counter that wrapped: 0x10 more than 2^48, minus 0xffff_ffff_fff0.
    assert_eq!(counter_delta(0xffff_ffff_fff0, 0x10, 48), 0x20);
    // Bits above the width (a sign-extended read) are ignored.
    assert_eq!(counter_delta(0, 0xffff_0000_0000_0005, 48), 5);
    assert_eq!(counter_delta(u64::MAX, 4, 64), 5);
}

#[test]
fn cpuid_decoding_of_intel_leaf_0a() {
    let facts = CpuFacts::decode(&intel_skylake(4));
    assert_eq!(
        (facts.vendor, facts.family, facts.model, facts.hypervisor),
        (Vendor::Intel, 6, 0x5e, false)
    );
    assert_eq!(
        facts.intel,
        Some(IntelPerfmon {
            version: 4,
            general_counters: 4,
            general_counter_bits: 48,
            event_vector_bits: 7,
            unavailable_events: 0,
            fixed_counters: 3,
            fixed_counter_bits: 48,
            fixed_counter_mask: 0,
        })
    );
    assert_eq!(facts.core_type, None);
    let perfmon = facts.intel.expect("leaf 0xA");
    assert!(perfmon.architectural_event_available(6) && !perfmon.architectural_event_available(7));
    assert!(perfmon.fixed_counter_supported(2) && !perfmon.fixed_counter_supported(3));

    // Version 1: EDX and ECX are not decoded, so no fixed counter exists.
    let v1 = CpuFacts::decode(&RawCpuid {
        leaf_0a: CpuidLeaf {
            edx: 0x603,
            ecx: 0xf,
            ..intel_v1_two_counters().leaf_0a
        },
        ..intel_v1_two_counters()
    });
    let v1 = v1.intel.expect("leaf 0xA");
    assert_eq!(
        (
            v1.version,
            v1.general_counters,
            v1.general_counter_bits,
            v1.fixed_counters,
            v1.fixed_counter_mask
        ),
        (1, 2, 40, 0, 0)
    );
    assert!(!v1.fixed_counter_supported(0));

    // Version 5: EDX counts 3 contiguous fixed counters; ECX adds counter 5 (not 3 or 4).
    let v5 = CpuFacts::decode(&RawCpuid {
        leaf_0a: CpuidLeaf {
            ecx: 0b10_0111,
            edx: 0x0000_0603,
            ..intel_sapphire_rapids().leaf_0a
        },
        ..intel_sapphire_rapids()
    });
    let v5 = v5.intel.expect("leaf 0xA");
    assert_eq!((v5.fixed_counters, v5.fixed_counter_mask), (3, 0b10_0111));
    let supported: Vec<u8> = (0..32)
        .filter(|&index| v5.fixed_counter_supported(index))
        .collect();
    assert_eq!(supported, [0, 1, 2, 5]);
    // Before version 5, ECX is not decoded.
    let v4 = IntelPerfmon::decode(CpuidLeaf {
        eax: 0x0730_0404,
        ebx: 0,
        ecx: 0b10_0000,
        edx: 0x603,
    });
    assert_eq!(v4.fixed_counter_mask, 0);
    assert!(!v4.fixed_counter_supported(5));
}

#[test]
fn cpuid_decoding_ignores_leaves_beyond_the_highest() {
    // Leaf 0xA holds data, but the highest basic leaf is 7: the data is ignored.
    let raw = RawCpuid {
        leaf_0: vendor_leaf(7, b"GenuineIntel"),
        ..intel_skylake(4)
    };
    let facts = CpuFacts::decode(&raw);
    assert_eq!(facts.intel, None);
    assert_eq!(
        plan(&facts),
        Err(Unavailable::NoPerfmonLeaf { max_basic_leaf: 7 })
    );
    // Leaf 0x8000_0022 holds PerfMonV2, but the highest extended leaf is 0x8000_0020.
    let raw = RawCpuid {
        leaf_8000_0000: eax(0x8000_0020),
        ..amd_zen4_perfmon_v2(6)
    };
    assert_eq!(
        CpuFacts::decode(&raw).amd,
        AmdPerfmon {
            extended_core: true,
            perfmon_v2: false,
            perfmon_v2_counters: 0
        }
    );
    // A highest "extended" leaf without bit 31 means there are no extended leaves.
    let raw = RawCpuid {
        leaf_8000_0000: eax(0x0000_0028),
        ..amd_zen4_perfmon_v2(6)
    };
    assert_eq!(CpuFacts::decode(&raw).amd, AmdPerfmon::default());
}

#[test]
fn raw_cpuid_read_queries_only_existing_leaves() {
    let mut queried = Vec::new();
    let raw = RawCpuid::read(|leaf, subleaf| {
        queried.push((leaf, subleaf));
        match leaf {
            0 => vendor_leaf(7, b"AuthenticAMD"),
            0x8000_0000 => eax(0x8000_0008),
            0x8000_0001 => CpuidLeaf {
                ecx: PERF_CTR_EXT_CORE,
                ..CpuidLeaf::default()
            },
            other => eax(other),
        }
    });
    assert_eq!(
        queried,
        [(0, 0), (0x8000_0000, 0), (1, 0), (7, 0), (0x8000_0001, 0)]
    );
    assert_eq!(
        (raw.leaf_1, raw.leaf_7, raw.leaf_0a, raw.leaf_1a),
        (eax(1), eax(7), CpuidLeaf::default(), CpuidLeaf::default())
    );
    assert_eq!(raw.leaf_8000_0022, CpuidLeaf::default());
    assert!(CpuFacts::decode(&raw).amd.extended_core);
}

#[test]
fn microarchitectures_are_identified_by_family_model_and_core_type() {
    let identify = |raw: RawCpuid| Microarchitecture::identify(&CpuFacts::decode(&raw));
    assert_eq!(identify(intel_skylake(4)), Some(Microarchitecture::Skylake));
    assert_eq!(
        identify(intel_sapphire_rapids()),
        Some(Microarchitecture::GoldenCove)
    );
    assert_eq!(
        identify(intel_alder_lake(0x40)),
        Some(Microarchitecture::GoldenCove)
    );
    assert_eq!(
        identify(intel_alder_lake(0x20)),
        Some(Microarchitecture::Gracemont)
    );
    assert_eq!(identify(intel_alder_lake(0x10)), None);
    // Alder Lake without the hybrid bit (no efficiency cores): Golden Cove.
    assert_eq!(
        identify(RawCpuid {
            leaf_7: CpuidLeaf::default(),
            ..intel_alder_lake(0x20)
        }),
        Some(Microarchitecture::GoldenCove)
    );
    // Ice Lake server (0x6A), Tiger Lake (0x8C), Cascade Lake (0x55 stepping 7).
    assert_eq!(
        identify(RawCpuid {
            leaf_1: eax(0x0006_06a6),
            ..intel_skylake(4)
        }),
        Some(Microarchitecture::IceLake)
    );
    assert_eq!(
        identify(RawCpuid {
            leaf_1: eax(0x0008_06c1),
            ..intel_skylake(4)
        }),
        Some(Microarchitecture::IceLake)
    );
    assert_eq!(
        identify(RawCpuid {
            leaf_1: eax(0x0005_0657),
            ..intel_skylake(4)
        }),
        Some(Microarchitecture::Skylake)
    );
    // Haswell (0x3C) is not in the table.
    assert_eq!(
        identify(RawCpuid {
            leaf_1: eax(0x0003_06c3),
            ..intel_skylake(4)
        }),
        None
    );
    assert_eq!(identify(intel_v1_two_counters()), None);
    assert_eq!(
        identify(amd_extended_core(0x0080_0f11)),
        Some(Microarchitecture::Zen1)
    );
    assert_eq!(
        identify(amd_extended_core(0x0083_0f10)),
        Some(Microarchitecture::Zen2)
    );
    assert_eq!(
        identify(amd_extended_core(0x00a0_0f11)),
        Some(Microarchitecture::Zen3)
    );
    assert_eq!(
        identify(amd_extended_core(0x00a2_0f10)),
        Some(Microarchitecture::Zen3)
    );
    assert_eq!(
        identify(amd_zen4_perfmon_v2(6)),
        Some(Microarchitecture::Zen4)
    );
    assert_eq!(
        identify(amd_extended_core(0x00b4_0f00)),
        Some(Microarchitecture::Zen5)
    );
    assert_eq!(identify(amd_family_10h(false)), None);
    assert_eq!(identify(qemu_tcg_max()), None);
}

#[test]
fn intel_v1_with_two_counters_counts_cycles_and_instructions() {
    let plan = plan_for(intel_v1_two_counters()).expect("a plan");
    assert_eq!(plan.kind, PmuKind::Intel { version: 1 });
    assert_eq!(
        (
            plan.general_counters,
            plan.general_counter_bits,
            plan.fixed_counters
        ),
        (2, 40, 0)
    );
    assert_eq!(
        slots(&plan),
        [
            ("cycles", general(0, 0x186, 0xc1, 0x0043_003c), 40),
            ("instructions", general(1, 0x187, 0xc2, 0x0043_00c0), 40),
        ]
    );
    assert_eq!(
        (plan.fixed_control, plan.global_control),
        (None, None),
        "version 1 has neither"
    );
    assert_eq!(plan.skipped().count(), 0);
    assert_eq!(
        plan.to_string(),
        "intel-v1 unknown-microarchitecture, 2 general-purpose counters (40 bits); counting cycles instructions"
    );
}

#[test]
fn intel_v1_skips_events_cpuid_marks_unavailable() {
    // EBX bit 0 set: UnHalted Core Cycles is not available.
    let raw = RawCpuid {
        leaf_0a: CpuidLeaf {
            ebx: 0b1,
            ..intel_v1_two_counters().leaf_0a
        },
        ..intel_v1_two_counters()
    };
    let plan = plan_for(raw).expect("a plan");
    assert_eq!(
        slots(&plan),
        [("instructions", general(0, 0x186, 0xc1, 0x0043_00c0), 40)]
    );
    assert_eq!(
        plan.skipped()
            .map(|(event, reason)| (event.name, reason))
            .collect::<Vec<_>>(),
        [("cycles", SkipReason::MarkedUnavailable)]
    );
    assert!(
        plan.to_string().ends_with(
            "; counting instructions; not counted (marked unavailable by CPUID): cycles"
        ),
        "{plan}"
    );
    // An event beyond the vector length EAX[31:24] counts as unavailable too: length 1 hides
    // Instructions Retired (bit 1).
    let raw = RawCpuid {
        leaf_0a: CpuidLeaf {
            eax: 0x0128_0201,
            ..CpuidLeaf::default()
        },
        ..intel_v1_two_counters()
    };
    assert_eq!(
        slots(&plan_for(raw).expect("a plan")),
        [("cycles", general(0, 0x186, 0xc1, 0x0043_003c), 40)]
    );
}

#[test]
fn intel_v4_with_eight_counters_uses_fixed_counters_and_every_tlb_event() {
    let plan = plan_for(intel_skylake(8)).expect("a plan");
    assert_eq!(plan.kind, PmuKind::Intel { version: 4 });
    assert_eq!(plan.microarchitecture, Some(Microarchitecture::Skylake));
    assert_eq!(
        slots(&plan),
        [
            (
                "cycles",
                Slot::Fixed {
                    index: 1,
                    counter_msr: 0x30a
                },
                48
            ),
            (
                "instructions",
                Slot::Fixed {
                    index: 0,
                    counter_msr: 0x309
                },
                48
            ),
            ("itlb_walks", general(0, 0x186, 0xc1, 0x0043_0e85), 48),
            ("dtlb_load_walks", general(1, 0x187, 0xc2, 0x0043_0e08), 48),
            ("dtlb_store_walks", general(2, 0x188, 0xc3, 0x0043_0e49), 48),
            ("itlb_stlb_hits", general(3, 0x189, 0xc4, 0x0043_2085), 48),
            (
                "dtlb_load_stlb_hits",
                general(4, 0x18a, 0xc5, 0x0043_2008),
                48
            ),
            (
                "dtlb_store_stlb_hits",
                general(5, 0x18b, 0xc6, 0x0043_2049),
                48
            ),
        ]
    );
    // Fixed counters 0 and 1 count at CPL 0 and CPL > 0: 0b0011 in each 4-bit field.
    assert_eq!(
        plan.fixed_control,
        Some(MsrWrite {
            msr: 0x38d,
            value: 0x33
        })
    );
    // PMC0-5 and FIXED_CTR0-1.
    assert_eq!(
        plan.global_control,
        Some(MsrWrite {
            msr: 0x38f,
            value: 0x3_0000_003f
        })
    );
    assert_eq!(
        plan.to_string(),
        "intel-v4 skylake, 8 general-purpose counters (48 bits) and 3 fixed counters; counting cycles instructions \
         itlb_walks dtlb_load_walks dtlb_store_walks itlb_stlb_hits dtlb_load_stlb_hits dtlb_store_stlb_hits"
    );
}

#[test]
fn intel_v4_with_four_counters_never_plans_more_than_it_has() {
    let plan = plan_for(intel_skylake(4)).expect("a plan");
    let general_slots: Vec<_> = plan
        .planned()
        .filter(|planned| matches!(planned.slot, Slot::General { .. }))
        .map(|planned| planned.event.name)
        .collect();
    assert_eq!(
        general_slots,
        [
            "itlb_walks",
            "dtlb_load_walks",
            "dtlb_store_walks",
            "itlb_stlb_hits"
        ]
    );
    assert_eq!(
        plan.global_control,
        Some(MsrWrite {
            msr: 0x38f,
            value: 0x3_0000_000f
        })
    );
    assert_eq!(
        plan.skipped()
            .map(|(event, reason)| (event.name, reason))
            .collect::<Vec<_>>(),
        [
            ("dtlb_load_stlb_hits", SkipReason::NoCounterLeft),
            ("dtlb_store_stlb_hits", SkipReason::NoCounterLeft)
        ]
    );
    assert!(
        plan.to_string()
            .ends_with("; not counted (no counter left): dtlb_load_stlb_hits dtlb_store_stlb_hits"),
        "{plan}"
    );
}

#[test]
fn intel_without_fixed_counters_puts_cycles_on_general_counters() {
    // A version-4 Skylake whose fixed-counter width is 0: the fixed counters are not used.
    let raw = RawCpuid {
        leaf_0a: CpuidLeaf {
            edx: 0x3,
            ..intel_skylake(4).leaf_0a
        },
        ..intel_skylake(4)
    };
    let plan = plan_for(raw).expect("a plan");
    assert_eq!(plan.fixed_counters, 0);
    assert_eq!(
        plan.planned()
            .map(|planned| planned.event.name)
            .collect::<Vec<_>>(),
        ["cycles", "instructions", "itlb_walks", "dtlb_load_walks"]
    );
    assert_eq!(plan.fixed_control, None);
    assert_eq!(
        plan.global_control,
        Some(MsrWrite {
            msr: 0x38f,
            value: 0xf
        })
    );
}

#[test]
fn golden_cove_uses_its_own_tlb_encodings() {
    let plan = plan_for(intel_sapphire_rapids()).expect("a plan");
    assert_eq!(plan.kind, PmuKind::Intel { version: 5 });
    assert_eq!(
        slots(&plan)[2..],
        [
            ("itlb_walks", general(0, 0x186, 0xc1, 0x0043_0e11), 48),
            ("dtlb_load_walks", general(1, 0x187, 0xc2, 0x0043_0e12), 48),
            ("dtlb_store_walks", general(2, 0x188, 0xc3, 0x0043_0e13), 48),
            ("itlb_stlb_hits", general(3, 0x189, 0xc4, 0x0043_2011), 48),
            (
                "dtlb_load_stlb_hits",
                general(4, 0x18a, 0xc5, 0x0043_2012),
                48
            ),
            (
                "dtlb_store_stlb_hits",
                general(5, 0x18b, 0xc6, 0x0043_2013),
                48
            ),
        ]
    );
    assert_eq!(
        plan.global_control,
        Some(MsrWrite {
            msr: 0x38f,
            value: 0x3_0000_003f
        })
    );
    assert_eq!(
        plan_for(intel_alder_lake(0x40))
            .expect("a plan")
            .planned()
            .nth(2)
            .map(|planned| planned.slot),
        Some(general(0, 0x186, 0xc1, 0x0043_0e11))
    );
}

#[test]
fn gracemont_counts_walks_with_the_skylake_encodings_and_no_stlb_hits() {
    let plan = plan_for(intel_alder_lake(0x20)).expect("a plan");
    assert_eq!(plan.microarchitecture, Some(Microarchitecture::Gracemont));
    assert_eq!(
        slots(&plan)[2..],
        [
            ("itlb_walks", general(0, 0x186, 0xc1, 0x0043_0e85), 48),
            ("dtlb_load_walks", general(1, 0x187, 0xc2, 0x0043_0e08), 48),
            ("dtlb_store_walks", general(2, 0x188, 0xc3, 0x0043_0e49), 48),
        ]
    );
}

#[test]
fn amd_legacy_counts_cycles_and_instructions_on_the_legacy_msrs() {
    let plan = plan_for(amd_family_10h(false)).expect("a plan");
    assert_eq!(plan.kind, PmuKind::AmdLegacy);
    assert_eq!(plan.microarchitecture, None);
    assert_eq!(
        slots(&plan),
        [
            (
                "cycles",
                general(0, 0xc001_0000, 0xc001_0004, 0x0043_0076),
                48
            ),
            (
                "instructions",
                general(1, 0xc001_0001, 0xc001_0005, 0x0043_00c0),
                48
            ),
        ]
    );
    assert_eq!((plan.fixed_control, plan.global_control), (None, None));
    assert_eq!(
        plan.to_string(),
        "amd-legacy unknown-microarchitecture, 4 general-purpose counters (48 bits); counting cycles instructions"
    );
}

#[test]
fn amd_legacy_under_a_hypervisor_is_unavailable() {
    assert_eq!(
        plan_for(amd_family_10h(true)),
        Err(Unavailable::AmdLegacyUnderHypervisor)
    );
    assert_eq!(
        plan_for(qemu_tcg_max()),
        Err(Unavailable::AmdLegacyUnderHypervisor)
    );
    assert_eq!(
        Unavailable::AmdLegacyUnderHypervisor.to_string(),
        "AMD CPU without PerfCtrExtCore under a hypervisor: the legacy counters are not promised"
    );
}

#[test]
fn amd_extended_core_uses_six_counters_at_0xc0010200() {
    let plan = plan_for(amd_extended_core(0x0083_0f10)).expect("a plan");
    assert_eq!(plan.kind, PmuKind::AmdExtendedCore);
    assert_eq!(plan.microarchitecture, Some(Microarchitecture::Zen2));
    assert_eq!(
        slots(&plan),
        [
            (
                "cycles",
                general(0, 0xc001_0200, 0xc001_0201, 0x0043_0076),
                48
            ),
            (
                "instructions",
                general(1, 0xc001_0202, 0xc001_0203, 0x0043_00c0),
                48
            ),
            (
                "itlb_walks",
                general(2, 0xc001_0204, 0xc001_0205, 0x0043_0f85),
                48
            ),
            (
                "dtlb_walks",
                general(3, 0xc001_0206, 0xc001_0207, 0x0043_f045),
                48
            ),
            (
                "itlb_l2_hits",
                general(4, 0xc001_0208, 0xc001_0209, 0x0043_0084),
                48
            ),
            (
                "dtlb_l2_hits",
                general(5, 0xc001_020a, 0xc001_020b, 0x0043_0f45),
                48
            ),
        ]
    );
    assert_eq!((plan.fixed_control, plan.global_control), (None, None));
    // A hypervisor that advertises PerfCtrExtCore backs the counters: still planned.
    let virtualized = RawCpuid {
        leaf_1: CpuidLeaf {
            ecx: HYPERVISOR_BIT,
            ..eax(0x0083_0f10)
        },
        ..amd_extended_core(0x0083_0f10)
    };
    assert_eq!(plan_for(virtualized).map(|plan| plan.len()), Ok(6));
    // Zen 1: the TLB unit masks are not verified, so only cycles and instructions.
    let zen1 = plan_for(amd_extended_core(0x0080_0f11)).expect("a plan");
    assert_eq!(
        zen1.planned()
            .map(|planned| planned.event.name)
            .collect::<Vec<_>>(),
        ["cycles", "instructions"]
    );
}

#[test]
fn amd_perfmon_v2_adds_the_global_control() {
    let plan = plan_for(amd_zen4_perfmon_v2(6)).expect("a plan");
    assert_eq!(plan.kind, PmuKind::AmdPerfMonV2);
    assert_eq!(plan.general_counters, 6);
    assert_eq!(plan.len(), 6);
    assert_eq!(
        plan.planned().nth(5).map(|planned| planned.slot),
        Some(general(5, 0xc001_020a, 0xc001_020b, 0x0043_0f45))
    );
    assert_eq!(
        plan.global_control,
        Some(MsrWrite {
            msr: 0xc000_0301,
            value: 0x3f
        })
    );
    assert_eq!(
        plan.to_string(),
        "amd-perfmon-v2 zen4, 6 general-purpose counters (48 bits); counting cycles instructions itlb_walks dtlb_walks itlb_l2_hits dtlb_l2_hits"
    );
    // EBX[3:0] = 4: four counters, four events, the global mask 0xF.
    let plan = plan_for(amd_zen4_perfmon_v2(4)).expect("a plan");
    assert_eq!(
        plan.planned()
            .map(|planned| planned.event.name)
            .collect::<Vec<_>>(),
        ["cycles", "instructions", "itlb_walks", "dtlb_walks"]
    );
    assert_eq!(
        plan.global_control,
        Some(MsrWrite {
            msr: 0xc000_0301,
            value: 0xf
        })
    );
}

#[test]
fn no_pmu_gives_a_typed_reason() {
    // QEMU TCG with an Intel model (`-cpu Skylake-Client`): leaf 0xA is all zero.
    let tcg_intel = RawCpuid {
        leaf_0: vendor_leaf(0xd, b"GenuineIntel"),
        leaf_1: CpuidLeaf {
            eax: 0x0005_06e3,
            ecx: HYPERVISOR_BIT,
            ..CpuidLeaf::default()
        },
        ..RawCpuid::default()
    };
    assert_eq!(plan_for(tcg_intel), Err(Unavailable::VersionZero));
    assert_eq!(
        Unavailable::VersionZero.to_string(),
        "CPUID leaf 0xA reports version 0"
    );
    let old_intel = RawCpuid {
        leaf_0: vendor_leaf(0x5, b"GenuineIntel"),
        ..RawCpuid::default()
    };
    assert_eq!(
        plan_for(old_intel),
        Err(Unavailable::NoPerfmonLeaf { max_basic_leaf: 5 })
    );
    assert_eq!(
        Unavailable::NoPerfmonLeaf { max_basic_leaf: 5 }.to_string(),
        "CPUID has no leaf 0xA (highest basic leaf 0x5)"
    );
    let other = RawCpuid {
        leaf_0: vendor_leaf(0xd, b"CentaurHauls"),
        ..intel_skylake(4)
    };
    assert_eq!(plan_for(other), Err(Unavailable::UnknownVendor));
    assert_eq!(Unavailable::UnknownVendor.to_string(), "unknown vendor");
    // Version 2, no general-purpose counter, no fixed counter.
    let empty = RawCpuid {
        leaf_0a: CpuidLeaf {
            eax: 0x0730_0002,
            ..CpuidLeaf::default()
        },
        ..intel_skylake(4)
    };
    assert_eq!(plan_for(empty), Err(Unavailable::NoCounters));
    assert_eq!(Unavailable::NoCounters.to_string(), "no core counters");
    // Counters of width 0.
    let narrow = RawCpuid {
        leaf_0a: CpuidLeaf {
            eax: 0x0700_0201,
            ..CpuidLeaf::default()
        },
        ..intel_v1_two_counters()
    };
    assert_eq!(plan_for(narrow), Err(Unavailable::ZeroCounterWidth));
    // Both architectural events marked unavailable on a CPU without model-specific rows.
    let blind = RawCpuid {
        leaf_0a: CpuidLeaf {
            ebx: 0b11,
            ..intel_v1_two_counters().leaf_0a
        },
        ..intel_v1_two_counters()
    };
    assert_eq!(plan_for(blind), Err(Unavailable::NoEvents));
    // PerfMonV2 with EBX[3:0] = 0.
    assert_eq!(
        plan_for(amd_zen4_perfmon_v2(0)),
        Err(Unavailable::NoCounters)
    );
    assert_eq!(
        Unavailable::Emulator { name: "Bochs" }.to_string(),
        "Bochs emulates no performance counters, whatever CPUID says"
    );
}

#[test]
fn counts_print_the_availability_and_every_count() {
    assert_eq!(Counts::unavailable().to_string(), "pmu=unavailable");
    assert_eq!(
        Counts::unavailable().availability().to_string(),
        "unavailable"
    );
    let plan = plan_for(amd_zen4_perfmon_v2(4)).expect("a plan");
    // Counter values above 48 bits are masked off.
    let raw = [1200, 800, 3, 1 << 48 | 7, 0, 0, 0, 0];
    let counts = Counts::from_raw(&plan, &raw);
    assert_eq!(
        counts.to_string(),
        "pmu=amd-perfmon-v2 pmu.cycles=1200 pmu.instructions=800 pmu.itlb_walks=3 pmu.dtlb_walks=7"
    );
    assert_eq!(
        counts.availability(),
        Availability::Available(PmuKind::AmdPerfMonV2)
    );
    assert_eq!(
        (counts.get("itlb_walks"), counts.get("itlb_l2_hits")),
        (Some(3), None)
    );
    let intel = Counts::from_raw(
        &plan_for(intel_v1_two_counters()).expect("a plan"),
        &[1 << 40 | 5, 6, 0, 0, 0, 0, 0, 0],
    );
    assert_eq!(
        intel.to_string(),
        "pmu=intel-v1 pmu.cycles=5 pmu.instructions=6"
    );
    assert_eq!(
        intel.iter().collect::<Vec<_>>(),
        [("cycles", 5), ("instructions", 6)]
    );
}

#[test]
fn kind_words_are_stable() {
    let words: Vec<String> = [
        PmuKind::Intel { version: 4 },
        PmuKind::AmdLegacy,
        PmuKind::AmdExtendedCore,
        PmuKind::AmdPerfMonV2,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(
        words,
        ["intel-v4", "amd-legacy", "amd-ext-core", "amd-perfmon-v2"]
    );
}
