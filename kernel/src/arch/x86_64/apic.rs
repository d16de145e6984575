//! Local APIC register access, in x2APIC (MSR) or xAPIC (memory-mapped) mode.
//!
//! Only register reads and writes live here (Intel SDM vol. 3A chapter 11); the timer logic,
//! calibration included, is in `drivers/apic.rs`. In x2APIC mode register `offset` is MSR
//! `0x800 + offset / 16` (SDM §11.12.1.2); in xAPIC mode it is at `base + offset` in an uncached
//! mapping that `mm::paging::map_mmio` made.

use spin::Once;
use x86_64::PhysAddr;
use x86_64::registers::model_specific::Msr;

use crate::mm::paging::MmioRegion;

/// IA32_APIC_BASE (SDM vol. 4, table 2-2); CPUID.1:EDX.APIC promises it.
const IA32_APIC_BASE: u32 = 0x1b;
/// IA32_APIC_BASE bit 11: APIC global enable.
const APIC_BASE_ENABLE: u64 = 1 << 11;
/// IA32_APIC_BASE bit 10: x2APIC mode enable.
const APIC_BASE_X2APIC: u64 = 1 << 10;
/// IA32_APIC_BASE bits 12..: physical base of the xAPIC page.
const APIC_BASE_ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;
/// First x2APIC MSR.
const X2APIC_MSR_BASE: u32 = 0x800;

/// Local APIC registers shoal uses, by their xAPIC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Register {
    /// Local APIC ID.
    Id = 0x20,
    /// Local APIC version.
    Version = 0x30,
    /// Task priority.
    TaskPriority = 0x80,
    /// End of interrupt (write only).
    EndOfInterrupt = 0xb0,
    /// Spurious-interrupt vector register (holds the software enable bit).
    SpuriousVector = 0xf0,
    /// LVT timer entry.
    LvtTimer = 0x320,
    /// Timer initial count.
    TimerInitialCount = 0x380,
    /// Timer current count (read only).
    TimerCurrentCount = 0x390,
    /// Timer divide configuration.
    TimerDivide = 0x3e0,
}

/// How the local APIC is reached.
#[derive(Clone, Copy, Debug)]
pub enum Access {
    /// x2APIC: registers are MSRs.
    X2Apic,
    /// xAPIC: registers are in this uncached MMIO page.
    XApic(MmioRegion),
}

static ACCESS: Once<Access> = Once::new();

/// Returns the physical address of the xAPIC register page.
pub fn base_physical() -> PhysAddr {
    let msr = Msr::new(IA32_APIC_BASE);
    // SAFETY: IA32_APIC_BASE exists on every CPU with CPUID.1:EDX.APIC, which the caller checked
    // (`drivers::apic::init` runs only with `features.apic`); reading it has no side effect.
    let value = unsafe { msr.read() };
    PhysAddr::new(value & APIC_BASE_ADDRESS_MASK)
}

/// Switches the local APIC to x2APIC mode. Call only when CPUID.1:ECX.x2APIC is set.
pub fn enable_x2apic() {
    let mut msr = Msr::new(IA32_APIC_BASE);
    // SAFETY: the caller checked CPUID.1:ECX[21] (x2APIC). Setting EN and EXTD together is the
    // architectural xAPIC -> x2APIC transition (SDM vol. 3A §11.12.5); nothing else is changed.
    unsafe {
        let value = msr.read();
        msr.write(value | APIC_BASE_ENABLE | APIC_BASE_X2APIC);
    }
}

/// Records how the local APIC is reached; later calls are ignored (one CPU, one APIC).
pub fn set_access(access: Access) {
    ACCESS.call_once(|| access);
}

/// Reads a local APIC register. Returns 0 before [`set_access`].
pub fn read(register: Register) -> u32 {
    match ACCESS.get() {
        Some(Access::X2Apic) => {
            let msr = Msr::new(X2APIC_MSR_BASE + register as u32 / 16);
            // SAFETY: x2APIC mode is on (set_access(X2Apic) follows enable_x2apic), so every
            // register in `Register` is a readable x2APIC MSR except EOI, which is write-only
            // and never read (the only readers are the ID, version and timer-count paths).
            unsafe { msr.read() as u32 }
        }
        Some(Access::XApic(region)) => {
            let pointer = (region.start().as_u64() + register as u64) as *const u32;
            // SAFETY: `MmioRegion` guarantees an uncached, writable mapping of the APIC page
            // that stays mapped forever; the offsets in `Register` are 16-byte-aligned
            // registers inside that page, read with one aligned 32-bit access as required.
            unsafe { pointer.read_volatile() }
        }
        None => 0,
    }
}

/// Writes a local APIC register. Ignored before [`set_access`].
pub fn write(register: Register, value: u32) {
    match ACCESS.get() {
        Some(Access::X2Apic) => {
            let mut msr = Msr::new(X2APIC_MSR_BASE + register as u32 / 16);
            // SAFETY: x2APIC mode is on; the writable registers in `Register` are writable MSRs.
            // Writing them only configures this CPU's APIC.
            unsafe { msr.write(value as u64) };
        }
        Some(Access::XApic(region)) => {
            let pointer = (region.start().as_u64() + register as u64) as *mut u32;
            // SAFETY: as in `read`: an uncached mapping of the APIC page, an aligned register.
            unsafe { pointer.write_volatile(value) };
        }
        None => {}
    }
}

/// Signals end of interrupt to the local APIC.
pub fn end_of_interrupt() {
    write(Register::EndOfInterrupt, 0);
}
