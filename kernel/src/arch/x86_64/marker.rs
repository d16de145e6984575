//! tlbsim markers: architectural multi-byte NOPs that the tlbsim QEMU plugin recognises
//! (`kernel/libs/tlbsim-protocol`). On real hardware each is a 7-byte NOP; under the plugin it
//! begins or ends a measured phase, names it, resets the model, or announces a simulated-PCID
//! CR3 write or the global-segment window.
//!
//! [`counted_loop_phase`] and [`counted_copy_phase`] run a marked phase whose instructions are
//! fixed by their `asm!` (the markers are inside it, so the compiler adds nothing between them):
//! the `instructions` ktest suite checks the plugin's instruction counts with them.

use tlbsim_protocol::Command;
use x86_64::VirtAddr;

/// Emits the marker with displacement `DISPLACEMENT` and `argument` in RAX.
#[inline(always)]
fn emit<const DISPLACEMENT: u32>(argument: u64) {
    // SAFETY: `nop dword ptr [rax + disp32]` is an architectural no-operation: it does not access
    // memory and changes no register or flag. No `nomem`: the marker is also a compiler memory
    // barrier, so the accesses of a phase stay between its markers.
    unsafe {
        core::arch::asm!(
            ".byte 0x0f, 0x1f, 0x80",
            ".4byte {displacement}",
            displacement = const DISPLACEMENT,
            in("rax") argument,
            options(nostack, preserves_flags),
        );
    }
}

/// Begins measured phase `id` named `name` (the plugin resets nothing; see [`reset`]).
pub fn begin_phase(id: u64, name: &str) {
    for word in tlbsim_protocol::name_words(name.as_bytes()) {
        emit::<{ Command::NamePhase.displacement() }>(word);
    }
    emit::<{ Command::BeginPhase.displacement() }>(id);
}

/// Ends measured phase `id`; the plugin prints its report line.
pub fn end_phase(id: u64) {
    emit::<{ Command::EndPhase.displacement() }>(id);
}

/// Zeroes the plugin's counters and empties its modelled TLBs.
pub fn reset() {
    emit::<{ Command::Reset.displacement() }>(0);
}

/// Zeroes tlbsim's counters and keeps its modelled TLBs: the start of a warm measurement.
pub fn zero_counters() {
    emit::<{ Command::ZeroCounters.displacement() }>(0);
}

/// Tells the plugin to model CR4.PCIDE as `on` although the real bit is clear (QEMU TCG).
pub fn simulate_pcid(on: bool) {
    let argument = if on { tlbsim_protocol::SIMULATE_PCID_ON } else { tlbsim_protocol::SIMULATE_PCID_OFF };
    emit::<{ Command::SimulatePcid.displacement() }>(argument);
}

/// Tells the plugin that the next CR3 write keeps the new PCID's entries (bit 63 on hardware).
pub fn keep_next_cr3() {
    emit::<{ Command::KeepNextCr3.displacement() }>(0);
}

/// Tells the plugin where the global-segment window lies (`start..end`, half-open), so that it
/// can count page walks by region.
pub fn window(start: VirtAddr, end: VirtAddr) {
    emit::<{ Command::WindowStart.displacement() }>(start.as_u64());
    emit::<{ Command::WindowEnd.displacement() }>(end.as_u64());
}

/// Emits the NamePhase markers that name the next phase `name`.
fn name_phase(name: &str) {
    for word in tlbsim_protocol::name_words(name.as_bytes()) {
        emit::<{ Command::NamePhase.displacement() }>(word);
    }
}

/// Runs marked phase `id` named `name` whose body is `mov ecx, iterations` and `iterations`
/// rounds of `dec ecx; jnz` (`iterations` must be at least 1). Between its BeginPhase and
/// EndPhase markers it executes exactly `2 * iterations + 1` instructions, plus the EndPhase
/// marker itself.
pub fn counted_loop_phase(id: u64, name: &str, iterations: u32) {
    name_phase(name);
    // SAFETY: the two markers are NOPs; the body only changes ECX (declared clobbered) and the
    // flags (no `preserves_flags`), and touches no memory or stack.
    unsafe {
        core::arch::asm!(
            ".byte 0x0f, 0x1f, 0x80",
            ".4byte {begin}",
            "mov ecx, {iterations:e}",
            "2:",
            "dec ecx",
            "jnz 2b",
            ".byte 0x0f, 0x1f, 0x80",
            ".4byte {end}",
            begin = const Command::BeginPhase.displacement(),
            end = const Command::EndPhase.displacement(),
            iterations = in(reg) iterations.max(1),
            in("rax") id,
            out("ecx") _,
            options(nostack),
        );
    }
}

/// Runs marked phase `id` named `name` whose body is one `rep movsb` copying `source` into
/// `destination` (the shorter length). Between its markers it executes that one instruction
/// (counted as QEMU counts a REP string instruction: see `tlbsim/README.md`) plus the EndPhase
/// marker.
pub fn counted_copy_phase(id: u64, name: &str, destination: &mut [u8], source: &[u8]) {
    let bytes = destination.len().min(source.len());
    name_phase(name);
    // SAFETY: the markers are NOPs; `rep movsb` copies `bytes` bytes from `source` to
    // `destination`, both valid for that many bytes and not overlapping (one is borrowed
    // mutably); the direction flag is clear, as the Rust ABI guarantees. RCX, RSI, RDI are
    // declared clobbered.
    unsafe {
        core::arch::asm!(
            ".byte 0x0f, 0x1f, 0x80",
            ".4byte {begin}",
            "rep movsb",
            ".byte 0x0f, 0x1f, 0x80",
            ".4byte {end}",
            begin = const Command::BeginPhase.displacement(),
            end = const Command::EndPhase.displacement(),
            in("rax") id,
            inout("rcx") bytes => _,
            inout("rsi") source.as_ptr() => _,
            inout("rdi") destination.as_mut_ptr() => _,
            options(nostack, preserves_flags),
        );
    }
}
