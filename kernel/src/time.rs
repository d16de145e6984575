//! The timer tick counter, advanced by the local APIC timer interrupt.

#![deny(unsafe_code)]

use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::x86_64::interrupts;

static TICKS: AtomicU64 = AtomicU64::new(0);

/// Counts one timer interrupt. Called by the interrupt handler only.
pub fn on_timer_interrupt() {
    TICKS.fetch_add(1, Ordering::Relaxed);
}

/// Returns the number of timer interrupts since boot.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// Halts until at least `count` more ticks have passed. Enables interrupts.
pub fn wait_ticks(count: u64) {
    let target = ticks() + count;
    while ticks() < target {
        interrupts::enable_and_wait();
    }
}
