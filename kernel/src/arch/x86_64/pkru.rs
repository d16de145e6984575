//! The protection-key rights register (PKRU, Intel SDM vol. 3A §4.6.2).
//!
//! With CR4.PKE set, every user-page leaf carries a 4-bit key (bits 62:59) and PKRU holds two bits
//! per key for user-mode data accesses: AD (access disable, bit 2k) and WD (write disable, bit
//! 2k+1). Keys never restrict instruction fetches. shoal gives each loaded binary's slot its own
//! key and writes each process's PKRU when it is switched to.

/// Returns the PKRU value that allows keys in `allowed` (a bit per key) and disables access to
/// every other key.
pub const fn rights_allowing(allowed: u16) -> u32 {
    let mut value = 0u32;
    let mut key = 0;
    while key < 16 {
        if allowed & (1 << key) == 0 {
            value |= 1 << (2 * key);
        }
        key += 1;
    }
    value
}

/// Writes PKRU. Call only with CR4.PKE set (WRPKRU raises #UD otherwise).
pub fn write(value: u32) {
    // SAFETY: the caller checked CR4.PKE (the scheduler writes PKRU only when `EnabledFeatures::pke`
    // is set); WRPKRU needs ECX = EDX = 0 and only changes which user data accesses are allowed.
    unsafe {
        core::arch::asm!("wrpkru", in("eax") value, in("ecx") 0u32, in("edx") 0u32, options(nomem, nostack, preserves_flags));
    }
}
