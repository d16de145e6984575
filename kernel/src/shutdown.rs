//! Ending a run: the final status line, then QEMU's exit device (or Bochs' shutdown port).
//!
//! The status line (`shoal: exit success` / `shoal: exit failure (reason)`) is the contract with
//! the host tool (`shoal-protocol`); on emulators without the exit device it is the only result.

#![deny(unsafe_code)]

use shoal_protocol::{ExitCode, STATUS_PREFIX};

use crate::arch::x86_64::{interrupts, port};
use crate::drivers::serial;

/// Ends the run with success.
pub fn success() -> ! {
    interrupts::disable();
    crate::println!("{STATUS_PREFIX}{}", ExitCode::Success.word());
    stop(ExitCode::Success)
}

/// Ends the run with failure, naming the reason in the status line.
///
/// Safe to call from exception handlers and the panic handler: it prints through the fatal path
/// of the console, which works even if the console lock is held.
pub fn failure(reason: &str) -> ! {
    interrupts::disable();
    serial::write_fatal(format_args!("{STATUS_PREFIX}{} ({reason})\n", ExitCode::Failure.word()));
    stop(ExitCode::Failure)
}

/// Polls of the line status before the machine is stopped anyway (far more than the
/// 16-byte FIFO needs at 115200 baud).
const DRAIN_POLLS: u32 = 10_000_000;

fn stop(code: ExitCode) -> ! {
    // Emulators without the exit device stop at Bochs' shutdown port: let COM1 send the status
    // line's last bytes first, or the runner sees a cut-off line.
    for _ in 0..DRAIN_POLLS {
        if port::com1_transmitter_empty() {
            break;
        }
        core::hint::spin_loop();
    }
    port::debug_exit(code.device_value());
    port::bochs_shutdown();
    interrupts::halt_forever()
}
