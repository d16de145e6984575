//! tlbsim markers: architectural multi-byte NOPs that the tlbsim QEMU plugin recognises
//! (`kernel/libs/tlbsim-protocol`). On real hardware each is a 7-byte NOP; under the plugin it
//! begins or ends a measured phase, names it, resets the model, or announces a simulated-PCID
//! CR3 write.

use tlbsim_protocol::Command;

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
