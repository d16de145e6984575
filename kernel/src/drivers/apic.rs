//! The local APIC timer: calibration against the PIT and periodic ticks.
//!
//! [`init`] picks x2APIC (MSR access) when the CPU has it, else maps the xAPIC page (found through
//! ACPI's MADT, or IA32_APIC_BASE without ACPI) uncached,
//! software-enables the APIC with the spurious vector, and masks the timer. [`calibrate`] counts
//! how far the APIC timer (divide by 16) and the TSC advance during a 10 ms one-shot of PIT
//! channel 2 (1.193182 MHz, gated through port 0x61). [`start_periodic`] then programs periodic
//! mode at the requested frequency (Intel SDM vol. 3A §11.5.4).
//!
//! Under an emulator these rates are the emulator's, not the hardware's: the boot log says which
//! engine measured them.

#![deny(unsafe_code)]

use core::fmt;

use crate::arch::x86_64::apic::{self, Access, Register};
use crate::arch::x86_64::cpu::{self, CpuFeatures};
use crate::arch::x86_64::idt::{SPURIOUS_VECTOR, TIMER_VECTOR};
use crate::arch::x86_64::port;
use crate::mm::paging::{self, MapError};

/// PIT input clock (Hz).
const PIT_FREQUENCY_HZ: u64 = 1_193_182;
/// Length of the calibration window.
const CALIBRATION_MILLISECONDS: u64 = 10;
/// Milliseconds per second.
const MILLISECONDS_PER_SECOND: u64 = 1000;
/// Spurious-vector register bit 8: APIC software enable.
const SOFTWARE_ENABLE: u32 = 1 << 8;
/// LVT bit 16: masked.
const LVT_MASKED: u32 = 1 << 16;
/// LVT timer mode bits 18:17 = 01: periodic.
const LVT_TIMER_PERIODIC: u32 = 1 << 17;
/// Divide configuration value for "divide by 16" (SDM figure 11-10).
const DIVIDE_BY_16: u32 = 0b0011;
/// Largest initial count.
const MAX_COUNT: u32 = u32::MAX;

/// Why the local APIC could not be set up.
#[derive(Clone, Copy, Debug)]
pub enum ApicError {
    /// CPUID reports no local APIC.
    NoApic,
    /// The xAPIC page could not be mapped.
    Map(MapError),
    /// The timer did not count during calibration (a broken or absent timer).
    TimerDoesNotCount,
}

impl fmt::Display for ApicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApicError::NoApic => write!(f, "the CPU has no local APIC"),
            ApicError::Map(error) => write!(f, "mapping the xAPIC registers: {error}"),
            ApicError::TimerDoesNotCount => {
                write!(f, "the local APIC timer did not count during calibration")
            }
        }
    }
}

/// What [`init`] found.
#[derive(Clone, Copy, Debug)]
pub struct ApicInfo {
    /// `x2apic` or `xapic`.
    pub mode: &'static str,
    /// Local APIC ID.
    pub id: u32,
    /// Version register value (version in bits 7:0, max LVT entry in 23:16).
    pub version: u32,
}

/// Rates measured by [`calibrate`].
#[derive(Clone, Copy, Debug)]
pub struct Calibration {
    /// APIC timer ticks per second at divide-by-16.
    pub apic_timer_hz: u64,
    /// TSC ticks per second.
    pub tsc_hz: u64,
}

/// Sets up the local APIC and masks its timer. In xAPIC mode its registers are at
/// `madt_address` (from ACPI's MADT) when given, else where IA32_APIC_BASE says.
///
/// # Errors
/// Returns an [`ApicError`] when the CPU has no APIC or its page cannot be mapped.
pub fn init(features: &CpuFeatures, madt_address: Option<u64>) -> Result<ApicInfo, ApicError> {
    if !features.apic {
        return Err(ApicError::NoApic);
    }
    let mode = if features.x2apic {
        apic::enable_x2apic();
        apic::set_access(Access::X2Apic);
        "x2apic"
    } else {
        let base = madt_address.map_or_else(apic::base_physical, x86_64::PhysAddr::new);
        let region = paging::map_mmio(base, 1).map_err(ApicError::Map)?;
        apic::set_access(Access::XApic(region));
        "xapic"
    };
    apic::write(Register::TaskPriority, 0);
    apic::write(Register::SpuriousVector, SOFTWARE_ENABLE | SPURIOUS_VECTOR as u32);
    apic::write(Register::LvtTimer, LVT_MASKED | TIMER_VECTOR as u32);
    let raw_id = apic::read(Register::Id);
    // In xAPIC mode the ID sits in bits 31:24; in x2APIC mode it is the whole register.
    let id = if features.x2apic { raw_id } else { raw_id >> 24 };
    Ok(ApicInfo { mode, id, version: apic::read(Register::Version) })
}

/// Measures the APIC timer and TSC rates against a 10 ms PIT interval.
///
/// # Errors
/// Returns [`ApicError::TimerDoesNotCount`] when the APIC timer did not move.
pub fn calibrate() -> Result<Calibration, ApicError> {
    let pit_count = (PIT_FREQUENCY_HZ * CALIBRATION_MILLISECONDS / MILLISECONDS_PER_SECOND) as u16;
    apic::write(Register::TimerDivide, DIVIDE_BY_16);
    apic::write(Register::LvtTimer, LVT_MASKED | TIMER_VECTOR as u32);
    port::pit_channel2_arm(pit_count);
    apic::write(Register::TimerInitialCount, MAX_COUNT);
    let tsc_start = cpu::read_tsc();
    port::pit_channel2_start();
    while !port::pit_channel2_done() {
        core::hint::spin_loop();
    }
    let remaining = apic::read(Register::TimerCurrentCount);
    let tsc_end = cpu::read_tsc();
    apic::write(Register::TimerInitialCount, 0);
    let elapsed = (MAX_COUNT - remaining) as u64;
    if elapsed == 0 {
        return Err(ApicError::TimerDoesNotCount);
    }
    let windows_per_second = MILLISECONDS_PER_SECOND / CALIBRATION_MILLISECONDS;
    Ok(Calibration {
        apic_timer_hz: elapsed * windows_per_second,
        tsc_hz: tsc_end.wrapping_sub(tsc_start) * windows_per_second,
    })
}

/// The timer's interrupts are masked while this guard lives; dropping it restores the timer's
/// local vector table entry as it was. See [`mask_timer`].
#[must_use = "the timer is unmasked again when the guard is dropped"]
pub struct TimerMasked {
    saved: u32,
}

/// Masks the timer's interrupts (the counter keeps running) until the returned guard is dropped.
///
/// Measured phases use it: a tick's handler touches kernel pages at moments that depend on the
/// host's speed under an emulator, so with ticks inside a phase its simulated TLB counts would
/// not repeat exactly. Code run under the guard must not wait for the timer.
///
/// A tick the APIC accepted before the mask took effect is still pending; it is delivered here
/// (interrupts are enabled for one instruction), not at the caller's next `sti` inside its
/// measured region.
pub fn mask_timer() -> TimerMasked {
    let saved = apic::read(Register::LvtTimer);
    apic::write(Register::LvtTimer, saved | LVT_MASKED);
    deliver_pending();
    TimerMasked { saved }
}

/// Lets an interrupt already pending in the APIC be delivered now: `sti` takes effect after the
/// next instruction, so the `nop` is the window in which it is taken. The interrupt flag is left
/// as it was.
fn deliver_pending() {
    let enabled = x86_64::instructions::interrupts::are_enabled();
    x86_64::instructions::interrupts::enable();
    x86_64::instructions::nop();
    if !enabled {
        x86_64::instructions::interrupts::disable();
    }
}

impl Drop for TimerMasked {
    fn drop(&mut self) {
        apic::write(Register::LvtTimer, self.saved);
    }
}

/// Starts periodic timer interrupts at `hz` per second on [`TIMER_VECTOR`].
pub fn start_periodic(calibration: &Calibration, hz: u32) {
    let initial = (calibration.apic_timer_hz / hz.max(1) as u64).clamp(1, MAX_COUNT as u64) as u32;
    apic::write(Register::TimerDivide, DIVIDE_BY_16);
    apic::write(Register::LvtTimer, LVT_TIMER_PERIODIC | TIMER_VECTOR as u32);
    apic::write(Register::TimerInitialCount, initial);
}
