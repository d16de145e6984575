//! Everything that touches the x86_64 CPU directly: one of the three places where `unsafe` is
//! allowed (with `mm/paging/` and `mm/heap.rs`).
//!
//! - `cpu`: CPUID into [`cpu::CpuFeatures`], and enabling NX/PGE/SMEP/SMAP/PCIDE;
//! - `cr`: the typed CR3 value and the CR3 write; `tlb`: the named flush operations;
//! - `gdt`, `idt`: descriptor tables, the TSS with IST stacks, exception reports;
//! - `apic`: local APIC registers (x2APIC or xAPIC); `port`: the legacy devices' I/O ports;
//! - `interrupts`: the interrupt flag; `stack`: moving onto a new stack;
//! - `syscall_entry`, `trap`: SYSCALL/SYSRET entry and the saved user registers;
//! - `context`: kernel-stack context switch, first entry to user mode, FPU state;
//! - `marker`: the tlbsim markers (NOPs the simulator plugin recognises);
//! - `pmu`: CPUID for the PMU leaves and the performance-counter MSRs a plan names.
//!
//! This module imports nothing from processes, system calls or the benchmark harness.

#![allow(unsafe_code)]

pub mod apic;
pub mod context;
pub mod cpu;
pub mod cr;
pub mod gdt;
pub mod idt;
pub mod interrupts;
pub mod marker;
pub mod pkru;
pub mod pmu;
pub mod port;
pub mod stack;
pub mod syscall_entry;
pub mod tlb;
pub mod trap;
