//! Register encodings: PerfEvtSel values, MSR addresses, counter widths.
//!
//! Intel IA32_PERFEVTSELx (SDM vol. 3B, "Architectural Performance Monitoring Version 1") and AMD
//! PerfEvtSel (AMD64 APM vol. 2 (24593), "Performance Monitoring Counters") share the low 32 bits:
//!
//! ```text
//!  63        42 41 40 39  36 35    32 31    24 23  22  21  20  19  18  17  16 15      8 7      0
//! | reserved   |HO|GO| res  |EvSel 11:8| CMASK |INV|EN |ANY|INT|PC | E |OS |USR| UMASK  | EvSel  |
//!                ^ AMD only  ^ AMD only (Intel: reserved)   ^ Intel AnyThread (v3), else reserved
//! ```
//!
//! shoal sets only USR, OS and EN: no edge detect, no counter mask, no interrupt (no PMI handler
//! exists), and on AMD neither HostOnly nor GuestOnly (count in both).
//!
//! MSR addresses:
//! - Intel (SDM vol. 4, table 2-2): IA32_PMCx at 0xC1 + x, IA32_PERFEVTSELx at 0x186 + x,
//!   IA32_FIXED_CTRx at 0x309 + x, IA32_FIXED_CTR_CTRL at 0x38D (4 bits per fixed counter: OS,
//!   USR, AnyThread, PMI), IA32_PERF_GLOBAL_CTRL at 0x38F (version 2 and later: bit x enables
//!   PMCx, bit 32 + x enables FIXED_CTRx).
//! - AMD (APM vol. 2): the legacy PerfEvtSel0-3 at 0xC001_0000-3 and PerfCtr0-3 at
//!   0xC001_0004-7; with PerfCtrExtCore, PerfEvtSel*i* at 0xC001_0200 + 2*i* and PerfCtr*i* at
//!   0xC001_0201 + 2*i* (the legacy addresses alias the first four); with PerfMonV2,
//!   PerfCntrGlobalCtl at 0xC000_0301 (bit *i* enables counter *i*, ANDed with each EN bit).
//!   AMD core counters are 48 bits wide.

/// PerfEvtSel bit 16: count at CPL 1-3.
pub const SELECT_USR: u64 = 1 << 16;
/// PerfEvtSel bit 17: count at CPL 0.
pub const SELECT_OS: u64 = 1 << 17;
/// PerfEvtSel bit 22: the counter is enabled.
pub const SELECT_ENABLE: u64 = 1 << 22;
/// The flags shoal sets: every ring, enabled.
pub const SELECT_FLAGS: u64 = SELECT_USR | SELECT_OS | SELECT_ENABLE;
/// The flags [`perf_event_select`] accepts; anything else is dropped.
const SELECT_FLAGS_ALLOWED: u64 = SELECT_FLAGS;
/// Where the AMD event select bits 11:8 go in PerfEvtSel.
const EXTENDED_EVENT_SELECT_SHIFT: u32 = 32;

/// Returns the PerfEvtSel value for event select `event_select` (bits 7:0 to bits 7:0, bits 11:8
/// to bits 35:32, as AMD defines; Intel selects fit in 8 bits), unit mask `unit_mask` and `flags`
/// (a combination of [`SELECT_USR`], [`SELECT_OS`], [`SELECT_ENABLE`]; other bits are dropped).
pub const fn perf_event_select(event_select: u16, unit_mask: u8, flags: u64) -> u64 {
    let low = (event_select & 0xff) as u64;
    let high = ((event_select >> 8) & 0xf) as u64;
    low | (unit_mask as u64) << 8
        | (flags & SELECT_FLAGS_ALLOWED)
        | high << EXTENDED_EVENT_SELECT_SHIFT
}

/// IA32_PMC0 (SDM vol. 4).
pub const IA32_PMC0: u32 = 0xc1;
/// IA32_PERFEVTSEL0 (SDM vol. 4).
pub const IA32_PERFEVTSEL0: u32 = 0x186;
/// IA32_FIXED_CTR0: instructions retired (SDM vol. 4).
pub const IA32_FIXED_CTR0: u32 = 0x309;
/// IA32_FIXED_CTR_CTRL (SDM vol. 4).
pub const IA32_FIXED_CTR_CTRL: u32 = 0x38d;
/// IA32_PERF_GLOBAL_CTRL, architectural from version 2 (SDM vol. 4).
pub const IA32_PERF_GLOBAL_CTRL: u32 = 0x38f;
/// AMD legacy PerfEvtSel0 (APM vol. 2).
pub const AMD_PERF_EVT_SEL_LEGACY0: u32 = 0xc001_0000;
/// AMD legacy PerfCtr0 (APM vol. 2).
pub const AMD_PERF_CTR_LEGACY0: u32 = 0xc001_0004;
/// AMD PerfEvtSel0 with PerfCtrExtCore (APM vol. 2); counter *i* is at `+ 2 * i`.
pub const AMD_PERF_EVT_SEL0: u32 = 0xc001_0200;
/// AMD PerfCtr0 with PerfCtrExtCore (APM vol. 2); counter *i* is at `+ 2 * i`.
pub const AMD_PERF_CTR0: u32 = 0xc001_0201;
/// AMD PerfCntrGlobalCtl with PerfMonV2 (APM vol. 2).
pub const AMD_PERF_CNTR_GLOBAL_CTL: u32 = 0xc000_0301;

/// Number of legacy AMD counters.
pub const AMD_LEGACY_COUNTERS: u8 = 4;
/// Number of AMD core counters with PerfCtrExtCore (without PerfMonV2's count).
pub const AMD_EXTENDED_CORE_COUNTERS: u8 = 6;
/// Width of the AMD core counters in bits.
pub const AMD_COUNTER_BITS: u8 = 48;
/// IA32_PERF_GLOBAL_CTRL: the first fixed-counter enable bit.
pub const GLOBAL_CTRL_FIXED_SHIFT: u32 = 32;
/// IA32_FIXED_CTR_CTRL: bits per fixed counter.
pub const FIXED_CTRL_BITS_PER_COUNTER: u32 = 4;
/// IA32_FIXED_CTR_CTRL: count at CPL 0 (bit 0 of a counter's field).
pub const FIXED_CTRL_OS: u64 = 0b01;
/// IA32_FIXED_CTR_CTRL: count at CPL > 0 (bit 1 of a counter's field).
pub const FIXED_CTRL_USR: u64 = 0b10;

/// A bank of general-purpose counter MSRs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterBank {
    /// Intel IA32_PERFEVTSELx / IA32_PMCx.
    Intel,
    /// AMD PerfEvtSel0-3 / PerfCtr0-3 at 0xC001_0000.
    AmdLegacy,
    /// AMD PerfEvtSel / PerfCtr pairs at 0xC001_0200 (PerfCtrExtCore).
    AmdExtendedCore,
}

impl CounterBank {
    /// Returns the event-select MSR of counter `index`.
    pub const fn select_msr(self, index: u8) -> u32 {
        match self {
            CounterBank::Intel => IA32_PERFEVTSEL0 + index as u32,
            CounterBank::AmdLegacy => AMD_PERF_EVT_SEL_LEGACY0 + index as u32,
            CounterBank::AmdExtendedCore => AMD_PERF_EVT_SEL0 + 2 * index as u32,
        }
    }

    /// Returns the counter MSR of counter `index`.
    pub const fn counter_msr(self, index: u8) -> u32 {
        match self {
            CounterBank::Intel => IA32_PMC0 + index as u32,
            CounterBank::AmdLegacy => AMD_PERF_CTR_LEGACY0 + index as u32,
            CounterBank::AmdExtendedCore => AMD_PERF_CTR0 + 2 * index as u32,
        }
    }
}

/// Returns the MSR of Intel fixed counter `index`.
pub const fn fixed_counter_msr(index: u8) -> u32 {
    IA32_FIXED_CTR0 + index as u32
}

/// Returns the mask of a `width_bits`-wide counter (all ones for 64 bits or more).
pub const fn counter_mask(width_bits: u8) -> u64 {
    if width_bits >= 64 {
        u64::MAX
    } else {
        (1u64 << width_bits) - 1
    }
}

/// Returns how far a `width_bits`-wide counter advanced from `start` to `end`, allowing one
/// wrap-around (counters wrap at their width; bits above it are ignored).
pub const fn counter_delta(start: u64, end: u64, width_bits: u8) -> u64 {
    end.wrapping_sub(start) & counter_mask(width_bits)
}
