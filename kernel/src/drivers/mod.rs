//! Device drivers. They reach device registers only through `arch/x86_64` wrappers.
//!
//! - `serial`: the COM1 console and the print macros;
//! - `fw_cfg`: QEMU's configuration files (the kernel arguments);
//! - `apic`: the local APIC timer, calibrated against the PIT;
//! - `pmu`: hardware performance counters around a measured region (start, stop, counts).

pub mod apic;
pub mod fw_cfg;
pub mod pmu;
pub mod serial;
