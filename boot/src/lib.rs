//! The edge between the bootloader and the kernel: `bootloader_api` types stop here.
//!
//! Two things live in this crate:
//! - [`bootloader_config`] builds the `BootloaderConfig` the kernel embeds with `entry_point!`
//!   (where the bootloader maps the kernel, physical memory and the boot stack);
//! - [`BootMemory`] is a plain copy of what the kernel needs from `BootInfo` (memory regions as
//!   [`memmap::Region`]s, the physical-memory offset, where the kernel ELF file lies), so that no
//!   other kernel module touches a bootloader type, and so the kernel can drop the bootloader's
//!   page tables (and with them the `BootInfo` mapping) once it has copied this.
//!
//! Neighbours: `kernel/src/main.rs` calls both; `kernel/src/mm/layout.rs` supplies the addresses.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

use bootloader_api::BootInfo;
use bootloader_api::config::{BootloaderConfig, Mapping};
use bootloader_api::info::MemoryRegionKind;
use memmap::{Region, RegionKind};

/// The most memory regions [`BootMemory`] keeps; QEMU and real firmware report far fewer.
pub const MAX_REGIONS: usize = 256;

/// Returns the bootloader configuration for a kernel with this virtual-address layout.
///
/// - `kernel_base`: where the (position-independent) kernel image is loaded;
/// - `physical_memory_offset`: where the bootloader maps all physical memory; the kernel later
///   builds its own direct map at the same place, so addresses derived from it stay valid;
/// - `dynamic_start`..`dynamic_end`: where the bootloader may put its other mappings (boot
///   stack, boot information, frame buffer); the kernel does not keep them;
/// - `boot_stack_bytes`: size of the stack the kernel starts on.
pub const fn bootloader_config(
    kernel_base: u64,
    physical_memory_offset: u64,
    dynamic_start: u64,
    dynamic_end: u64,
    boot_stack_bytes: u64,
) -> BootloaderConfig {
    let mut config = BootloaderConfig::new_default();
    config.mappings.kernel_base = Mapping::FixedAddress(kernel_base);
    config.mappings.physical_memory = Some(Mapping::FixedAddress(physical_memory_offset));
    config.mappings.dynamic_range_start = Some(dynamic_start);
    config.mappings.dynamic_range_end = Some(dynamic_end);
    config.kernel_stack_size = boot_stack_bytes;
    config
}

/// Errors while copying the boot information.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootError {
    /// The bootloader did not map physical memory, although the configuration asks for it.
    NoPhysicalMemoryMapping,
    /// The bootloader mapped physical memory somewhere other than where the kernel asked.
    PhysicalMemoryOffsetMismatch {
        /// The offset the kernel configured.
        expected: u64,
        /// The offset the bootloader reports.
        found: u64,
    },
    /// The firmware reported more memory regions than [`MAX_REGIONS`].
    TooManyRegions {
        /// How many regions the bootloader passed.
        count: usize,
    },
}

impl core::fmt::Display for BootError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BootError::NoPhysicalMemoryMapping => {
                write!(f, "the bootloader did not map physical memory")
            }
            BootError::PhysicalMemoryOffsetMismatch { expected, found } => write!(
                f,
                "physical memory is mapped at {found:#x}, the kernel expects {expected:#x}"
            ),
            BootError::TooManyRegions { count } => write!(
                f,
                "the firmware reported {count} memory regions; at most {MAX_REGIONS} are supported"
            ),
        }
    }
}

/// What the kernel keeps of the bootloader's `BootInfo`, in kernel types.
#[derive(Clone, Debug)]
pub struct BootMemory {
    regions: [Region; MAX_REGIONS],
    region_count: usize,
    /// Virtual address at which the bootloader maps physical address 0.
    pub physical_memory_offset: u64,
    /// Physical address of the kernel's ELF file as the bootloader read it from disk.
    pub kernel_file_physical: u64,
    /// Length in bytes of the kernel's ELF file.
    pub kernel_file_bytes: u64,
    /// Virtual address the kernel image was loaded at (the ELF's addresses are relative to it).
    pub kernel_image_offset: u64,
    /// Physical address of the ACPI RSDP, when the firmware provided one.
    pub rsdp_physical: Option<u64>,
    /// Virtual address and length in bytes of the ramdisk the bootloader loaded, if any.
    pub ramdisk: Option<(u64, u64)>,
}

impl BootMemory {
    /// Copies the kernel-relevant parts of `boot_info`.
    ///
    /// # Errors
    /// Returns a [`BootError`] when physical memory is not mapped at `expected_physical_offset`
    /// or the memory map has more than [`MAX_REGIONS`] entries.
    pub fn from_boot_info(
        boot_info: &BootInfo,
        expected_physical_offset: u64,
    ) -> Result<BootMemory, BootError> {
        let found = boot_info
            .physical_memory_offset
            .as_ref()
            .copied()
            .ok_or(BootError::NoPhysicalMemoryMapping)?;
        if found != expected_physical_offset {
            return Err(BootError::PhysicalMemoryOffsetMismatch {
                expected: expected_physical_offset,
                found,
            });
        }
        let source = &boot_info.memory_regions[..];
        if source.len() > MAX_REGIONS {
            return Err(BootError::TooManyRegions { count: source.len() });
        }
        let empty = Region { start: 0, end: 0, kind: RegionKind::Reserved };
        let mut regions = [empty; MAX_REGIONS];
        for (slot, region) in regions.iter_mut().zip(source) {
            *slot = Region { start: region.start, end: region.end, kind: convert_kind(region.kind) };
        }
        Ok(BootMemory {
            regions,
            region_count: source.len(),
            physical_memory_offset: found,
            kernel_file_physical: boot_info.kernel_addr,
            kernel_file_bytes: boot_info.kernel_len,
            kernel_image_offset: boot_info.kernel_image_offset,
            rsdp_physical: boot_info.rsdp_addr.as_ref().copied(),
            ramdisk: boot_info
                .ramdisk_addr
                .as_ref()
                .map(|&address| (address, boot_info.ramdisk_len)),
        })
    }

    /// Returns the firmware's memory regions, as the bootloader reported them.
    pub fn regions(&self) -> &[Region] {
        &self.regions[..self.region_count]
    }
}

/// Converts a bootloader region kind into the kernel's.
fn convert_kind(kind: MemoryRegionKind) -> RegionKind {
    match kind {
        MemoryRegionKind::Usable => RegionKind::Usable,
        MemoryRegionKind::Bootloader => RegionKind::Bootloader,
        MemoryRegionKind::UnknownBios(tag) => RegionKind::UnknownBios(tag),
        MemoryRegionKind::UnknownUefi(tag) => RegionKind::UnknownUefi(tag),
        // `MemoryRegionKind` is non-exhaustive: a kind added by a newer bootloader is kept out
        // of the allocator, which is the safe reading of an unknown kind.
        _ => RegionKind::Reserved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bootloader_api::info::{MemoryRegion, MemoryRegions};

    fn boot_info_with(regions: &'static mut [MemoryRegion], offset: Option<u64>) -> BootInfo {
        let mut info = BootInfo::new(MemoryRegions::from(regions));
        info.physical_memory_offset = offset.into();
        info.kernel_addr = 0x20_0000;
        info.kernel_len = 0x1_0000;
        info.kernel_image_offset = 0xffff_ffff_8000_0000;
        info
    }

    #[test]
    fn copies_regions_and_kinds() {
        let regions = Box::leak(Box::new([
            MemoryRegion { start: 0, end: 0x9f000, kind: MemoryRegionKind::Usable },
            MemoryRegion { start: 0x10_0000, end: 0x20_0000, kind: MemoryRegionKind::Bootloader },
            MemoryRegion { start: 0xe_0000, end: 0xf_0000, kind: MemoryRegionKind::UnknownBios(2) },
        ]));
        let info = boot_info_with(regions, Some(0xffff_8000_0000_0000));
        let memory = BootMemory::from_boot_info(&info, 0xffff_8000_0000_0000).unwrap();
        assert_eq!(memory.regions().len(), 3);
        assert_eq!(memory.regions()[0].kind, RegionKind::Usable);
        assert_eq!(memory.regions()[1].kind, RegionKind::Bootloader);
        assert_eq!(memory.regions()[2].kind, RegionKind::UnknownBios(2));
        assert_eq!(memory.regions()[2].end, 0xf_0000);
        assert_eq!(memory.kernel_file_physical, 0x20_0000);
        assert_eq!(memory.kernel_image_offset, 0xffff_ffff_8000_0000);
        assert_eq!(memory.ramdisk, None);
    }

    #[test]
    fn refuses_missing_or_moved_physical_mapping() {
        let regions = Box::leak(Box::new([]));
        let info = boot_info_with(regions, None);
        assert_eq!(
            BootMemory::from_boot_info(&info, 0x1000).unwrap_err(),
            BootError::NoPhysicalMemoryMapping
        );
        let regions = Box::leak(Box::new([]));
        let info = boot_info_with(regions, Some(0x2000));
        assert_eq!(
            BootMemory::from_boot_info(&info, 0x1000).unwrap_err(),
            BootError::PhysicalMemoryOffsetMismatch { expected: 0x1000, found: 0x2000 }
        );
    }
}
