//! Reading the firmware's ACPI tables through the direct map (for the MADT: where the local APIC
//! and the I/O APICs are, and how many processors exist).
//!
//! The `acpi` crate asks its handler to map physical regions; every table lies in RAM the direct
//! map already covers, so "mapping" returns the direct-map address and unmapping does nothing.

extern crate alloc;

use alloc::vec::Vec;
use core::ptr::NonNull;

use acpi::platform::interrupt::InterruptModel;
use acpi::{AcpiHandler, AcpiTables, PhysicalMapping};

use crate::mm::layout;

/// Maps ACPI tables through the kernel's direct map.
#[derive(Clone, Copy, Debug)]
struct DirectMap;

impl AcpiHandler for DirectMap {
    unsafe fn map_physical_region<T>(&self, physical_address: usize, size: usize) -> PhysicalMapping<Self, T> {
        let pointer: *mut T = layout::direct_map(physical_address as u64).as_mut_ptr();
        // SAFETY: the direct map covers all physical memory for the kernel's whole life, so the
        // pointer is valid and non-null (the direct map starts in the kernel half); the `acpi`
        // crate guarantees (its contract for this method) that a `T` lies at `physical_address`.
        unsafe { PhysicalMapping::new(physical_address, NonNull::new_unchecked(pointer), size, size, *self) }
    }

    fn unmap_physical_region<T>(_region: &PhysicalMapping<Self, T>) {}
}

/// What the MADT says.
#[derive(Clone, Debug)]
pub struct Madt {
    /// Physical address of the local APIC's registers (xAPIC mode).
    pub local_apic: u64,
    /// I/O APICs: (id, physical address, first global system interrupt).
    pub io_apics: Vec<(u8, u32, u32)>,
    /// Processors the firmware lists (the boot processor included).
    pub processors: usize,
}

/// Reads the MADT through the RSDP at `rsdp`.
///
/// # Errors
/// Returns the `acpi` crate's error when the tables are missing or malformed, or when they
/// describe no APIC.
pub fn read_madt(rsdp: u64) -> Result<Madt, acpi::AcpiError> {
    // SAFETY: `rsdp` is the RSDP address the bootloader found and passed in its boot information;
    // the handler maps through the direct map, which covers it.
    let tables = unsafe { AcpiTables::from_rsdp(DirectMap, rsdp as usize) }?;
    let platform = tables.platform_info()?;
    let InterruptModel::Apic(apic) = platform.interrupt_model else {
        return Err(acpi::AcpiError::InvalidMadt(acpi::madt::MadtError::UnexpectedEntry));
    };
    let processors = platform.processor_info.as_ref().map_or(0, |info| 1 + info.application_processors.len());
    Ok(Madt {
        local_apic: apic.local_apic_address,
        io_apics: apic.io_apics.iter().map(|io| (io.id, io.address, io.global_system_interrupt_base)).collect(),
        processors,
    })
}
