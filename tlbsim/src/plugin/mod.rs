//! The QEMU TCG plugin that feeds the model with a running guest.
//!
//! The crate builds as a `cdylib` (`libtlbsim.so`) that QEMU loads with
//! `-plugin libtlbsim.so,ram=FILE,...` (plugin API version 4, QEMU 10.0). The plugin is split
//! so that everything but the FFI is pure and tested on the host:
//!
//! - `config` — the plugin arguments ([`PluginConfig`]).
//! - `session` — [`Session`]: the model and the walk-cost model plus the guest state the
//!   plugin tracks (paging on or off, simulated PCID, the global-segment window, the marker
//!   protocol of `tlbsim_protocol`), the recent-page fast path, and the report lines.
//! - `qemu` — the only module with unsafe code: the exported `qemu_plugin_version` and
//!   `qemu_plugin_install`, QEMU's callbacks, the instruction scoreboard, register reads and the
//!   `mmap` of the RAM file. Its state is reached without a lock (one vCPU, one thread; its
//!   documentation gives the argument).
//!
//! # How it hooks QEMU
//!
//! At **translation** of each block (`qemu_plugin_register_vcpu_tb_trans_cb`), the plugin
//! registers for that block:
//!
//! - a block-execution callback that counts one instruction fetch from the block's first
//!   page, and an instruction callback before the first instruction that reaches a second
//!   code page (a block spans at most two), which counts one fetch there. In fast mode the
//!   block callback is conditional (`qemu_plugin_register_vcpu_tb_exec_cond_cb`): it runs only
//!   when the block starts on another page than the one a scoreboard value names, which the
//!   plugin keeps equal to [`Session::code_mru_page`] (the page of the previous fetch while its
//!   L1 iTLB entry is its set's most recent); an inline add counts every execution, and the
//!   skipped ones are reported to the session as L1 hits before each marker and at exit;
//! - an inline add on every instruction
//!   (`qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu` on a `qemu_plugin_scoreboard`): one of
//!   two counters, user or kernel by the instruction's linear address (kernel half at or above
//!   `0xffff_8000_0000_0000`: by address, not by CPL), read at markers and at exit;
//! - a memory callback on every instruction (`qemu_plugin_register_vcpu_mem_cb`; QEMU calls
//!   it once per load or store, with the linear address and the access's size), which counts
//!   one data access, or two when the access's last byte lies on the next 4 KiB page;
//! - for the instructions that [`crate::instruction::decode`] recognises (MOV to CR0/CR3/CR4,
//!   INVLPG, INVPCID, markers), a callback *before* the instruction with
//!   `QEMU_PLUGIN_CB_R_REGS` that reads the source register (and for INVLPG and INVPCID the
//!   registers of the memory operand, whose address it computes from the decoded
//!   ModRM/SIB/displacement) and applies the model's rule. WRMSR is recognised but not
//!   instrumented: EFER matters only for LME, which the plugin reads at each MOV to CR0, and
//!   for NXE, which the model does not check.
//!
//! Page walks read the guest's paging structures from the RAM file, mapped read-only
//! (`guest_ram.rs`). The registers are found by name in `qemu_plugin_get_registers` at vCPU
//! initialisation; the RAM file is mapped then too, once QEMU has created and sized it.
//!
//! # Fast and exact mode: where a fetch's address comes from
//!
//! Both modes count the same events: one instruction fetch per code page per executed block
//! (not one per instruction: consecutive instructions on one page hit the same TLB entry, so
//! the per-block count changes only `accesses` and `l1_hits`, never misses or walks, as long
//! as nothing invalidates the page in the middle of a block, which only the block's own last
//! instruction can do). They differ in the address:
//!
//! - `mode=fast` uses the address the block was *translated* at. It reads no register per
//!   block, but QEMU x86-64 system emulation shares a translated block between all virtual
//!   aliases of the same physical code (blocks are looked up by physical address and
//!   translated PC-relative), so code mapped at two linear addresses is counted at whichever
//!   address was translated first. In shoal a binary's text sits at one address in every
//!   process (the global segment), and kernel code is not executed through the direct map, so
//!   fast mode is exact for shoal as long as nothing else aliases code.
//! - `mode=exact` reads RIP when each block starts executing (one register read per block,
//!   through a `QEMU_PLUGIN_CB_R_REGS` block callback) and counts fetches at the true
//!   addresses. The exit line `tlbsim info ... relocated_blocks=N` says how many block
//!   executions ran at another address than translated: when N is 0, fast mode would have
//!   counted the same.
//!
//! RIP-relative memory operands of INVLPG and INVPCID are computed from the instruction's
//! translation-time address in both modes.

pub mod config;
mod qemu;
pub mod session;

#[cfg(test)]
mod tests;

pub use config::{FetchMode, PluginConfig};
pub use session::Session;
