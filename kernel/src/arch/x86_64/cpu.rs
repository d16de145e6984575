//! CPU feature detection (CPUID, read once at boot) and enabling of the features shoal uses.
//!
//! [`CpuFeatures`] records what the CPU promises; every other module asks it instead of running
//! CPUID. Feature bits follow the Intel SDM vol. 2A (CPUID) and the AMD APM vol. 3 (appendix E).
//! MSRs are touched only when CPUID promises them: QEMU TCG answers 0 to any MSR read and never
//! raises #GP, so probing an MSR there proves nothing.

use core::arch::x86_64::{__cpuid, __cpuid_count};
use core::fmt;

use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
use x86_64::registers::model_specific::{Efer, EferFlags};

/// Which vendor's CPU this is (decides the PMU and model-specific paths); the vendor string
/// itself is kept in [`CpuFeatures::vendor`].
pub use pmu::Vendor;

/// Which engine executes the kernel, as far as CPUID tells (the hypervisor leaf 0x4000_0000).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// No hypervisor bit: real hardware, or an emulator that hides itself (Bochs does).
    Hardware,
    /// QEMU's TCG emulator (`TCGTCGTCGTCG`): timings are those of an emulator.
    QemuTcg,
    /// A KVM hypervisor (`KVMKVMKVM`): real KVM or this machine's PVM software virtualiser.
    Kvm,
    /// Another hypervisor; its vendor string is in [`CpuFeatures::hypervisor`].
    OtherHypervisor,
    /// The Bochs emulator: no hypervisor bit, but its firmware's ACPI tables carry OEM ID
    /// `BOCHS` (QEMU's do too, and QEMU sets the hypervisor bit). Timings are emulated.
    Bochs,
}

impl Engine {
    /// Returns a short name used in result lines.
    pub const fn name(self) -> &'static str {
        match self {
            Engine::Hardware => "hardware",
            Engine::QemuTcg => "tcg",
            Engine::Kvm => "kvm",
            Engine::OtherHypervisor => "hypervisor",
            Engine::Bochs => "bochs",
        }
    }
}

/// The performance-monitoring unit the CPU advertises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pmu {
    /// No PMU advertised.
    None,
    /// Intel architectural performance monitoring (CPUID leaf 0xA).
    IntelArchitectural {
        /// Version ID (EAX[7:0]).
        version: u8,
        /// General-purpose counters per logical processor (EAX[15:8]).
        counters: u8,
        /// Bit width of the general-purpose counters (EAX[23:16]).
        counter_bits: u8,
    },
    /// AMD core performance counters: 6 with PerfCtrExtCore (CPUID 0x8000_0001 ECX[23]).
    AmdCore {
        /// Number of core counters (4 legacy, 6 with PerfCtrExtCore).
        counters: u8,
        /// Whether PerfMonV2 (global control MSRs) is present (CPUID 0x8000_0022 EAX[0]).
        perfmon_v2: bool,
    },
}

/// What the CPU promises, read once at boot.
#[derive(Clone, Copy, Debug)]
pub struct CpuFeatures {
    /// Vendor identification string, e.g. `GenuineIntel`.
    pub vendor: [u8; 12],
    /// Vendor decoded.
    pub vendor_kind: Vendor,
    /// Processor brand string (CPUID 0x8000_0002..4), NUL padded.
    pub brand: [u8; 48],
    /// Display family (with the extended family folded in).
    pub family: u32,
    /// Display model (with the extended model folded in).
    pub model: u32,
    /// Stepping ID.
    pub stepping: u32,
    /// Global pages (CR4.PGE): CPUID.1:EDX[13].
    pub pge: bool,
    /// Process-context identifiers: CPUID.1:ECX[17].
    pub pcid: bool,
    /// INVPCID instruction: CPUID.(7,0):EBX[10].
    pub invpcid: bool,
    /// Protection keys for user pages: CPUID.(7,0):ECX[3].
    pub pku: bool,
    /// Supervisor-mode execution prevention: CPUID.(7,0):EBX[7].
    pub smep: bool,
    /// Supervisor-mode access prevention: CPUID.(7,0):EBX[20].
    pub smap: bool,
    /// User-mode instruction prevention (SGDT, SIDT, SLDT, SMSW, STR fault at CPL 3):
    /// CPUID.(7,0):ECX[2].
    pub umip: bool,
    /// Execute-disable bit: CPUID.8000_0001:EDX[20].
    pub nx: bool,
    /// 1 GiB pages: CPUID.8000_0001:EDX[26].
    pub huge_pages_1g: bool,
    /// Local APIC present: CPUID.1:EDX[9].
    pub apic: bool,
    /// x2APIC mode: CPUID.1:ECX[21].
    pub x2apic: bool,
    /// TSC-deadline timer mode: CPUID.1:ECX[24].
    pub tsc_deadline: bool,
    /// Invariant TSC: CPUID.8000_0007:EDX[8].
    pub invariant_tsc: bool,
    /// FXSAVE/FXRSTOR: CPUID.1:EDX[24].
    pub fxsr: bool,
    /// XSAVE family: CPUID.1:ECX[26].
    pub xsave: bool,
    /// The performance-monitoring unit.
    pub pmu: Pmu,
    /// Hypervisor present: CPUID.1:ECX[31].
    pub hypervisor_present: bool,
    /// Hypervisor vendor string from CPUID 0x4000_0000 (all zero when absent).
    pub hypervisor: [u8; 12],
    /// The engine that runs us, as far as CPUID tells.
    pub engine: Engine,
    /// Physical address bits (CPUID 0x8000_0008 EAX[7:0]).
    pub physical_address_bits: u8,
}

/// Returns bit `bit` of `value`.
const fn bit(value: u32, bit: u32) -> bool {
    value & (1 << bit) != 0
}

impl CpuFeatures {
    /// Marks the engine as Bochs when CPUID showed no hypervisor and the ACPI RSDP's OEM ID is
    /// `BOCHS ` (see [`Engine::Bochs`]).
    pub fn note_acpi_oem(&mut self, oem_id: [u8; 6]) {
        if self.engine == Engine::Hardware && &oem_id == b"BOCHS " {
            self.engine = Engine::Bochs;
        }
    }

    /// Runs CPUID and records every feature shoal cares about.
    pub fn detect() -> CpuFeatures {
        let leaf0 = __cpuid(0);
        let max_leaf = leaf0.eax;
        let mut vendor = [0u8; 12];
        vendor[0..4].copy_from_slice(&leaf0.ebx.to_le_bytes());
        vendor[4..8].copy_from_slice(&leaf0.edx.to_le_bytes());
        vendor[8..12].copy_from_slice(&leaf0.ecx.to_le_bytes());
        let vendor_kind = Vendor::from_id(&vendor);

        let leaf1 = __cpuid(1);
        let base_family = (leaf1.eax >> 8) & 0xf;
        let base_model = (leaf1.eax >> 4) & 0xf;
        let family = if base_family == 0xf { base_family + ((leaf1.eax >> 20) & 0xff) } else { base_family };
        let model = if base_family == 0x6 || base_family == 0xf {
            base_model | (((leaf1.eax >> 16) & 0xf) << 4)
        } else {
            base_model
        };
        let leaf7 = if max_leaf >= 7 { __cpuid_count(7, 0) } else { __cpuid_count(0, 0) };
        let has_leaf7 = max_leaf >= 7;

        let max_extended = __cpuid(0x8000_0000).eax;
        let extended1 = if max_extended >= 0x8000_0001 { Some(__cpuid(0x8000_0001)) } else { None };
        let mut brand = [0u8; 48];
        if max_extended >= 0x8000_0004 {
            for (index, leaf) in (0x8000_0002u32..=0x8000_0004).enumerate() {
                let result = __cpuid(leaf);
                for (word_index, word) in [result.eax, result.ebx, result.ecx, result.edx].iter().enumerate() {
                    let start = index * 16 + word_index * 4;
                    brand[start..start + 4].copy_from_slice(&word.to_le_bytes());
                }
            }
        }
        let invariant_tsc = max_extended >= 0x8000_0007 && bit(__cpuid(0x8000_0007).edx, 8);
        let physical_address_bits =
            if max_extended >= 0x8000_0008 { (__cpuid(0x8000_0008).eax & 0xff) as u8 } else { 36 };

        let pmu = match vendor_kind {
            Vendor::Intel if max_leaf >= 0xa => {
                let eax = __cpuid(0xa).eax;
                let version = (eax & 0xff) as u8;
                if version == 0 {
                    Pmu::None
                } else {
                    Pmu::IntelArchitectural {
                        version,
                        counters: ((eax >> 8) & 0xff) as u8,
                        counter_bits: ((eax >> 16) & 0xff) as u8,
                    }
                }
            }
            Vendor::Amd => {
                let extended_core = extended1.is_some_and(|leaf| bit(leaf.ecx, 23));
                let perfmon_v2 = max_extended >= 0x8000_0022 && bit(__cpuid(0x8000_0022).eax, 0);
                // Without PerfCtrExtCore the four legacy counters exist on every AMD64 CPU, but
                // a hypervisor may not back them: report them only when the extension is
                // advertised, which is what the kernel will program.
                if extended_core {
                    Pmu::AmdCore { counters: 6, perfmon_v2 }
                } else {
                    Pmu::None
                }
            }
            _ => Pmu::None,
        };

        let hypervisor_present = bit(leaf1.ecx, 31);
        let mut hypervisor = [0u8; 12];
        let mut engine = Engine::Hardware;
        if hypervisor_present {
            let leaf = __cpuid(0x4000_0000);
            hypervisor[0..4].copy_from_slice(&leaf.ebx.to_le_bytes());
            hypervisor[4..8].copy_from_slice(&leaf.ecx.to_le_bytes());
            hypervisor[8..12].copy_from_slice(&leaf.edx.to_le_bytes());
            engine = match &hypervisor {
                b"TCGTCGTCGTCG" => Engine::QemuTcg,
                b"KVMKVMKVM\0\0\0" => Engine::Kvm,
                _ => Engine::OtherHypervisor,
            };
        }

        CpuFeatures {
            vendor,
            vendor_kind,
            brand,
            family,
            model,
            stepping: leaf1.eax & 0xf,
            pge: bit(leaf1.edx, 13),
            pcid: bit(leaf1.ecx, 17),
            invpcid: has_leaf7 && bit(leaf7.ebx, 10),
            pku: has_leaf7 && bit(leaf7.ecx, 3),
            smep: has_leaf7 && bit(leaf7.ebx, 7),
            smap: has_leaf7 && bit(leaf7.ebx, 20),
            umip: has_leaf7 && bit(leaf7.ecx, 2),
            nx: extended1.is_some_and(|leaf| bit(leaf.edx, 20)),
            huge_pages_1g: extended1.is_some_and(|leaf| bit(leaf.edx, 26)),
            apic: bit(leaf1.edx, 9),
            x2apic: bit(leaf1.ecx, 21),
            tsc_deadline: bit(leaf1.ecx, 24),
            invariant_tsc,
            fxsr: bit(leaf1.edx, 24),
            xsave: bit(leaf1.ecx, 26),
            pmu,
            hypervisor_present,
            hypervisor,
            engine,
            physical_address_bits,
        }
    }

    /// Returns the vendor string as text.
    pub fn vendor_str(&self) -> &str {
        core::str::from_utf8(&self.vendor).unwrap_or("?")
    }

    /// Returns the brand string as text, trimmed.
    pub fn brand_str(&self) -> &str {
        let end = self.brand.iter().position(|&byte| byte == 0).unwrap_or(self.brand.len());
        core::str::from_utf8(&self.brand[..end]).unwrap_or("?").trim()
    }

    /// Returns the hypervisor vendor as text (empty when there is none).
    pub fn hypervisor_str(&self) -> &str {
        let end = self.hypervisor.iter().position(|&byte| byte == 0).unwrap_or(self.hypervisor.len());
        core::str::from_utf8(&self.hypervisor[..end]).unwrap_or("?")
    }
}

/// The control-register features the kernel turned on, for the boot log.
#[derive(Clone, Copy, Debug, Default)]
pub struct EnabledFeatures {
    /// EFER.NXE: execute-disable honoured.
    pub nx: bool,
    /// CR4.PGE: global pages honoured.
    pub pge: bool,
    /// CR4.SMEP.
    pub smep: bool,
    /// CR4.SMAP.
    pub smap: bool,
    /// CR4.PCIDE.
    pub pcide: bool,
    /// CR4.PKE: protection keys for user pages.
    pub pke: bool,
    /// CR4.UMIP: user code cannot read the descriptor-table registers (kernel addresses).
    pub umip: bool,
    /// CR0.AM: user code that sets RFLAGS.AC gets #AC on unaligned accesses (as on Linux).
    pub alignment_mask: bool,
}

/// Turns on NX, PGE, SMEP, SMAP and PCIDE where the CPU has them, and returns what is on.
///
/// Must run while CR3[11:0] is 0 (the SDM requires it to set PCIDE), which holds for the boot
/// page tables and the kernel's own: both use PCID 0.
pub fn enable_features(features: &CpuFeatures) -> EnabledFeatures {
    if features.nx {
        let efer = Efer::read();
        if !efer.contains(EferFlags::NO_EXECUTE_ENABLE) {
            // SAFETY: setting NXE only makes the NX bit of page-table entries effective; the
            // kernel's page tables use NX only on data, never on code that runs.
            unsafe { Efer::write(efer | EferFlags::NO_EXECUTE_ENABLE) };
        }
    }
    let mut cr4 = Cr4::read();
    if features.pge {
        cr4 |= Cr4Flags::PAGE_GLOBAL;
    }
    if features.smep {
        cr4 |= Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION;
    }
    if features.smap {
        cr4 |= Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION;
    }
    if features.pcid && x86_64::registers::control::Cr3::read_raw().1 & 0xfff == 0 {
        cr4 |= Cr4Flags::PCID;
    }
    if features.pku {
        cr4 |= Cr4Flags::PROTECTION_KEY_USER;
    }
    if features.umip {
        cr4 |= Cr4Flags::USER_MODE_INSTRUCTION_PREVENTION;
    }
    // SAFETY: every flag set here is promised by CPUID (checked just above). PGE only lets
    // global entries survive CR3 writes; SMEP and SMAP only forbid the kernel to run or touch
    // user pages, and no user pages exist yet; PCIDE is set only while CR3[11:0] is 0; PKE only
    // makes the key bits of user leaves effective, and PKRU starts at 0 (every key allowed);
    // UMIP only makes five instructions fault at CPL 3.
    unsafe { Cr4::write(cr4) };
    // SAFETY: CR0.AM only enables alignment checking at CPL 3 for code that sets RFLAGS.AC
    // itself (every x86-64 CPU has it); the kernel at CPL 0 is never checked.
    unsafe { Cr0::update(|flags| flags.insert(Cr0Flags::ALIGNMENT_MASK)) };
    let cr4 = Cr4::read();
    EnabledFeatures {
        nx: Efer::read().contains(EferFlags::NO_EXECUTE_ENABLE),
        pge: cr4.contains(Cr4Flags::PAGE_GLOBAL),
        smep: cr4.contains(Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION),
        smap: cr4.contains(Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION),
        pcide: cr4.contains(Cr4Flags::PCID),
        pke: cr4.contains(Cr4Flags::PROTECTION_KEY_USER),
        umip: cr4.contains(Cr4Flags::USER_MODE_INSTRUCTION_PREVENTION),
        alignment_mask: Cr0::read().contains(Cr0Flags::ALIGNMENT_MASK),
    }
}

/// Reads the time-stamp counter.
pub fn read_tsc() -> u64 {
    // SAFETY: RDTSC has no side effects; CR4.TSD is clear, so it is allowed at CPL 0 anyway.
    unsafe { core::arch::x86_64::_rdtsc() }
}

impl fmt::Display for CpuFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes_no = |value: bool| if value { "yes" } else { "no" };
        writeln!(
            f,
            "cpu: {} family {:#x} model {:#x} stepping {} \"{}\"",
            self.vendor_str(),
            self.family,
            self.model,
            self.stepping,
            self.brand_str()
        )?;
        writeln!(
            f,
            "cpu: pge={} pcid={} invpcid={} pku={} smep={} smap={} nx={} 1g-pages={} umip={}",
            yes_no(self.pge),
            yes_no(self.pcid),
            yes_no(self.invpcid),
            yes_no(self.pku),
            yes_no(self.smep),
            yes_no(self.smap),
            yes_no(self.nx),
            yes_no(self.huge_pages_1g),
            yes_no(self.umip)
        )?;
        writeln!(
            f,
            "cpu: apic={} x2apic={} tsc-deadline={} invariant-tsc={} fxsr={} xsave={} phys-bits={}",
            yes_no(self.apic),
            yes_no(self.x2apic),
            yes_no(self.tsc_deadline),
            yes_no(self.invariant_tsc),
            yes_no(self.fxsr),
            yes_no(self.xsave),
            self.physical_address_bits
        )?;
        match self.pmu {
            Pmu::None => writeln!(f, "cpu: pmu=unavailable")?,
            Pmu::IntelArchitectural { version, counters, counter_bits } => writeln!(
                f,
                "cpu: pmu=intel-architectural version={version} counters={counters} width={counter_bits}"
            )?,
            Pmu::AmdCore { counters, perfmon_v2 } => writeln!(
                f,
                "cpu: pmu=amd-core counters={counters} perfmon-v2={}",
                yes_no(perfmon_v2)
            )?,
        }
        if self.hypervisor_present {
            write!(f, "cpu: hypervisor=\"{}\" engine={}", self.hypervisor_str(), self.engine.name())
        } else {
            write!(f, "cpu: hypervisor=none engine={}", self.engine.name())
        }
    }
}
