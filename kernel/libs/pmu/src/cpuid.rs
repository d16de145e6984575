//! CPUID facts about the performance-monitoring unit, decoded from raw register values.
//!
//! [`RawCpuid`] holds the leaves the planner reads, exactly as the CPUID instruction returned
//! them; [`CpuFacts::decode`] turns them into [`CpuFacts`]. Nothing here runs CPUID: the kernel's
//! `arch/x86_64/pmu.rs` passes a closure that does ([`RawCpuid::read`]), the tests pass values.
//!
//! Leaves and bits (Intel SDM vol. 2A, CPUID; AMD APM vol. 3 (24594), appendix E):
//! - leaf 0: EAX the highest basic leaf, EBX-EDX-ECX the vendor string;
//! - leaf 1: EAX family/model/stepping, `ECX[31]` "a hypervisor is present";
//! - leaf 7 subleaf 0: `EDX[15]` hybrid part (Intel);
//! - leaf 0xA (Intel "architectural performance monitoring"): `EAX[7:0]` version,
//!   `EAX[15:8]` general-purpose counters per logical processor, `EAX[23:16]` their width,
//!   `EAX[31:24]` the length of the EBX vector; EBX bit *i* set = architectural event *i* **not**
//!   available; ECX (version 5 and later) bit *i* = fixed counter *i* supported; `EDX[4:0]` fixed
//!   counters, `EDX[12:5]` their width (version 2 and later);
//! - leaf 0x1A (Intel hybrid parts): `EAX[31:24]` the core type of the CPU running CPUID (0x20
//!   Atom, 0x40 Core);
//! - leaf 0x8000_0000: EAX the highest extended leaf;
//! - leaf 0x8000_0001: `ECX[23]` PerfCtrExtCore (AMD: six core counters at 0xC001_0200);
//! - leaf 0x8000_0022 (AMD): `EAX[0]` PerfMonV2 (global control MSRs), `EBX[3:0]` the number of
//!   core counters.

/// The four registers one CPUID leaf returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuidLeaf {
    /// EAX.
    pub eax: u32,
    /// EBX.
    pub ebx: u32,
    /// ECX.
    pub ecx: u32,
    /// EDX.
    pub edx: u32,
}

/// The CPUID leaves the planner reads, as the instruction returned them (subleaf 0 each).
///
/// A leaf above the CPU's highest leaf may hold anything (Intel CPUs answer such a query with the
/// highest basic leaf's data): [`CpuFacts::decode`] ignores it, so all-zero is a fine filler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawCpuid {
    /// Leaf 0: highest basic leaf and vendor string.
    pub leaf_0: CpuidLeaf,
    /// Leaf 1: family, model, stepping; the hypervisor bit.
    pub leaf_1: CpuidLeaf,
    /// Leaf 7, subleaf 0: the hybrid bit.
    pub leaf_7: CpuidLeaf,
    /// Leaf 0xA: Intel architectural performance monitoring.
    pub leaf_0a: CpuidLeaf,
    /// Leaf 0x1A: Intel hybrid core type.
    pub leaf_1a: CpuidLeaf,
    /// Leaf 0x8000_0000: highest extended leaf.
    pub leaf_8000_0000: CpuidLeaf,
    /// Leaf 0x8000_0001: PerfCtrExtCore.
    pub leaf_8000_0001: CpuidLeaf,
    /// Leaf 0x8000_0022: AMD extended performance monitoring (PerfMonV2).
    pub leaf_8000_0022: CpuidLeaf,
}

/// Leaf 0xA, Intel architectural performance monitoring.
const LEAF_PERFMON: u32 = 0xa;
/// Leaf 0x1A, Intel native model ID and core type.
const LEAF_HYBRID: u32 = 0x1a;
/// Leaf 7, structured extended features.
const LEAF_EXTENDED_FEATURES: u32 = 7;
/// The first extended leaf.
const LEAF_EXTENDED_BASE: u32 = 0x8000_0000;
/// Leaf 0x8000_0001, extended features.
const LEAF_EXTENDED_FEATURES_1: u32 = 0x8000_0001;
/// Leaf 0x8000_0022, AMD extended performance monitoring and debug.
const LEAF_AMD_PERFMON: u32 = 0x8000_0022;

impl RawCpuid {
    /// Reads every leaf through `cpuid(leaf, subleaf)`, skipping the leaves the CPU does not have.
    pub fn read(mut cpuid: impl FnMut(u32, u32) -> CpuidLeaf) -> RawCpuid {
        let leaf_0 = cpuid(0, 0);
        let leaf_8000_0000 = cpuid(LEAF_EXTENDED_BASE, 0);
        let mut basic = |leaf: u32| {
            if leaf_0.eax >= leaf {
                cpuid(leaf, 0)
            } else {
                CpuidLeaf::default()
            }
        };
        let leaf_1 = basic(1);
        let leaf_7 = basic(LEAF_EXTENDED_FEATURES);
        let leaf_0a = basic(LEAF_PERFMON);
        let leaf_1a = basic(LEAF_HYBRID);
        let mut extended = |leaf: u32| {
            if has_extended_leaf(leaf_8000_0000.eax, leaf) {
                cpuid(leaf, 0)
            } else {
                CpuidLeaf::default()
            }
        };
        let leaf_8000_0001 = extended(LEAF_EXTENDED_FEATURES_1);
        let leaf_8000_0022 = extended(LEAF_AMD_PERFMON);
        RawCpuid {
            leaf_0,
            leaf_1,
            leaf_7,
            leaf_0a,
            leaf_1a,
            leaf_8000_0000,
            leaf_8000_0001,
            leaf_8000_0022,
        }
    }
}

/// Returns whether an extended leaf exists, given leaf 0x8000_0000's EAX.
///
/// A CPU without extended leaves may answer leaf 0x8000_0000 with anything, so the highest leaf
/// must itself look like an extended leaf.
const fn has_extended_leaf(highest: u32, leaf: u32) -> bool {
    highest & LEAF_EXTENDED_BASE != 0 && highest >= leaf
}

/// The CPU vendor, from the leaf-0 string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vendor {
    /// `GenuineIntel`.
    Intel,
    /// `AuthenticAMD`.
    Amd,
    /// Anything else (Hygon, Zhaoxin, VIA, emulators with their own string).
    Other,
}

impl Vendor {
    /// Returns the vendor of the 12-byte identification string of CPUID leaf 0 (EBX, EDX, ECX).
    pub fn from_id(id: &[u8; 12]) -> Vendor {
        match id {
            b"GenuineIntel" => Vendor::Intel,
            b"AuthenticAMD" => Vendor::Amd,
            _ => Vendor::Other,
        }
    }
}

/// The core type of the CPU that ran CPUID on an Intel hybrid part (leaf 0x1A `EAX[31:24]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreType {
    /// 0x20: an Atom (efficiency) core, e.g. Gracemont.
    Atom,
    /// 0x40: a Core (performance) core, e.g. Golden Cove.
    Core,
    /// Any other value.
    Other(u8),
}

/// Intel architectural performance monitoring (leaf 0xA), decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntelPerfmon {
    /// Version ID, `EAX[7:0]`; 0 means no architectural performance monitoring.
    pub version: u8,
    /// General-purpose counters per logical processor, `EAX[15:8]`.
    pub general_counters: u8,
    /// Width of the general-purpose counters in bits, `EAX[23:16]`.
    pub general_counter_bits: u8,
    /// Number of valid bits in [`unavailable_events`](Self::unavailable_events), `EAX[31:24]`.
    pub event_vector_bits: u8,
    /// EBX: bit *i* set means architectural event *i* is **not** available.
    pub unavailable_events: u32,
    /// Contiguous fixed-function counters, `EDX[4:0]` (0 before version 2).
    pub fixed_counters: u8,
    /// Width of the fixed-function counters in bits, `EDX[12:5]` (0 before version 2).
    pub fixed_counter_bits: u8,
    /// ECX: bit *i* = fixed counter *i* supported (version 5 and later, else 0).
    pub fixed_counter_mask: u32,
}

/// Bit vector length beyond which EBX says nothing (`EAX[31:24]` is a byte, EBX 32 bits).
const EVENT_VECTOR_MAX_BITS: u8 = 32;

impl IntelPerfmon {
    /// Decodes leaf 0xA.
    pub const fn decode(leaf: CpuidLeaf) -> IntelPerfmon {
        let version = (leaf.eax & 0xff) as u8;
        let has_fixed = version >= 2;
        IntelPerfmon {
            version,
            general_counters: ((leaf.eax >> 8) & 0xff) as u8,
            general_counter_bits: ((leaf.eax >> 16) & 0xff) as u8,
            event_vector_bits: ((leaf.eax >> 24) & 0xff) as u8,
            unavailable_events: leaf.ebx,
            fixed_counters: if has_fixed {
                (leaf.edx & 0x1f) as u8
            } else {
                0
            },
            fixed_counter_bits: if has_fixed {
                ((leaf.edx >> 5) & 0xff) as u8
            } else {
                0
            },
            fixed_counter_mask: if version >= 5 { leaf.ecx } else { 0 },
        }
    }

    /// Returns whether architectural event `bit` (its EBX bit position) is available: the bit is
    /// inside the vector `EAX[31:24]` announces and EBX does not set it.
    pub const fn architectural_event_available(&self, bit: u8) -> bool {
        let length = if self.event_vector_bits < EVENT_VECTOR_MAX_BITS {
            self.event_vector_bits
        } else {
            EVENT_VECTOR_MAX_BITS
        };
        bit < length && self.unavailable_events & (1 << bit) == 0
    }

    /// Returns whether fixed counter `index` exists: `index < EDX[4:0]`, or ECX bit `index` on
    /// version 5 and later (SDM vol. 2A, leaf 0xA: `FxCtr[i]_is_supported`).
    pub const fn fixed_counter_supported(&self, index: u8) -> bool {
        self.version >= 2
            && self.fixed_counter_bits > 0
            && (index < self.fixed_counters
                || (index < 32 && self.fixed_counter_mask & (1 << index) != 0))
    }
}

/// AMD core performance counters, decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AmdPerfmon {
    /// PerfCtrExtCore: CPUID 0x8000_0001 `ECX[23]`.
    pub extended_core: bool,
    /// PerfMonV2: CPUID 0x8000_0022 `EAX[0]`.
    pub perfmon_v2: bool,
    /// Core counters with PerfMonV2: CPUID 0x8000_0022 `EBX[3:0]` (0 without PerfMonV2).
    pub perfmon_v2_counters: u8,
}

/// What CPUID says about the CPU's performance-monitoring unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuFacts {
    /// The vendor.
    pub vendor: Vendor,
    /// Display family (extended family added when the base family is 0xF).
    pub family: u32,
    /// Display model (extended model prepended for families 6 and 0xF).
    pub model: u32,
    /// `CPUID.1:ECX[31]`: a hypervisor says it is present.
    pub hypervisor: bool,
    /// The highest basic leaf (leaf 0 EAX).
    pub max_basic_leaf: u32,
    /// Intel leaf 0xA, when the vendor is Intel and the leaf exists.
    pub intel: Option<IntelPerfmon>,
    /// The core type of this CPU on an Intel hybrid part (`CPUID.7.0:EDX[15]` set and leaf 0x1A
    /// present); `None` on every other CPU.
    pub core_type: Option<CoreType>,
    /// AMD core counters (all false and 0 on other vendors).
    pub amd: AmdPerfmon,
}

/// Returns bit `bit` of `value`.
const fn bit(value: u32, bit: u32) -> bool {
    value & (1 << bit) != 0
}

impl CpuFacts {
    /// Decodes the raw leaves, ignoring those beyond the highest leaf the CPU reports.
    pub fn decode(raw: &RawCpuid) -> CpuFacts {
        let max_basic_leaf = raw.leaf_0.eax;
        let mut vendor_bytes = [0u8; 12];
        vendor_bytes[0..4].copy_from_slice(&raw.leaf_0.ebx.to_le_bytes());
        vendor_bytes[4..8].copy_from_slice(&raw.leaf_0.edx.to_le_bytes());
        vendor_bytes[8..12].copy_from_slice(&raw.leaf_0.ecx.to_le_bytes());
        let vendor = Vendor::from_id(&vendor_bytes);
        let leaf_1 = if max_basic_leaf >= 1 {
            raw.leaf_1
        } else {
            CpuidLeaf::default()
        };
        let base_family = (leaf_1.eax >> 8) & 0xf;
        let base_model = (leaf_1.eax >> 4) & 0xf;
        let family = if base_family == 0xf {
            base_family + ((leaf_1.eax >> 20) & 0xff)
        } else {
            base_family
        };
        let model = if base_family == 0x6 || base_family == 0xf {
            base_model | (((leaf_1.eax >> 16) & 0xf) << 4)
        } else {
            base_model
        };

        let intel = (vendor == Vendor::Intel && max_basic_leaf >= LEAF_PERFMON)
            .then(|| IntelPerfmon::decode(raw.leaf_0a));
        let hybrid = max_basic_leaf >= LEAF_EXTENDED_FEATURES && bit(raw.leaf_7.edx, 15);
        let core_type = (vendor == Vendor::Intel && hybrid && max_basic_leaf >= LEAF_HYBRID)
            .then_some(match (raw.leaf_1a.eax >> 24) as u8 {
                0x20 => CoreType::Atom,
                0x40 => CoreType::Core,
                other => CoreType::Other(other),
            });

        let highest_extended = raw.leaf_8000_0000.eax;
        let amd = if vendor == Vendor::Amd {
            let extended_core = has_extended_leaf(highest_extended, LEAF_EXTENDED_FEATURES_1)
                && bit(raw.leaf_8000_0001.ecx, 23);
            let perfmon_v2 = has_extended_leaf(highest_extended, LEAF_AMD_PERFMON)
                && bit(raw.leaf_8000_0022.eax, 0);
            AmdPerfmon {
                extended_core,
                perfmon_v2,
                perfmon_v2_counters: if perfmon_v2 {
                    (raw.leaf_8000_0022.ebx & 0xf) as u8
                } else {
                    0
                },
            }
        } else {
            AmdPerfmon::default()
        };

        CpuFacts {
            vendor,
            family,
            model,
            hypervisor: bit(leaf_1.ecx, 31),
            max_basic_leaf,
            intel,
            core_type,
            amd,
        }
    }
}
