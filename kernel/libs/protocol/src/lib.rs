//! The contract between the shoal kernel and the host tool that boots it.
//!
//! The kernel ends a run by writing an [`ExitCode`] to QEMU's `isa-debug-exit` device and by
//! printing a final [status line](STATUS_PREFIX) on the serial port (emulators without the exit
//! device, such as Bochs, are judged by that line alone). The host tool reads both. It passes the
//! kernel arguments through the fw_cfg file named [`ARGS_FW_CFG_NAME`].
//!
//! Neighbours: `kernel/src/drivers/qemu_exit.rs` writes the codes, `qemu-runner.sh` and the host
//! tool (`src/main.rs`) map QEMU's status back, and `kernel-args` parses the argument string.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

/// The fw_cfg file through which QEMU hands the kernel its argument string.
pub const ARGS_FW_CFG_NAME: &str = "opt/shoal/args";

/// The I/O port of QEMU's `isa-debug-exit` device (`-device isa-debug-exit,iobase=0xf4`).
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// Prefix of the last line the kernel prints: `shoal: exit success` or `shoal: exit failure`.
pub const STATUS_PREFIX: &str = "shoal: exit ";

/// How a kernel run ended, as the kernel reports it.
///
/// QEMU's `isa-debug-exit` turns a written value `v` into the process status `(v << 1) | 1`.
/// Status 1 is also what QEMU returns when it fails by itself, and what `qemu_exit`'s
/// `exit_failure()` produces, so neither outcome here maps to 1: success is 33 and failure 35.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    /// The scenario or test suite ran to its end and every check passed.
    Success = 0x10,
    /// A check failed, the kernel panicked, an exception hit the kernel, or the boot was refused.
    Failure = 0x11,
}

impl ExitCode {
    /// Returns the value the kernel writes to the exit device.
    pub const fn device_value(self) -> u32 {
        self as u32
    }

    /// Returns the status QEMU exits with after the kernel wrote this code.
    pub const fn qemu_status(self) -> i32 {
        ((self as u32) << 1 | 1) as i32
    }

    /// Returns the word used in the status line (`success` or `failure`).
    pub const fn word(self) -> &'static str {
        match self {
            ExitCode::Success => "success",
            ExitCode::Failure => "failure",
        }
    }

    /// Returns the exit code that produced QEMU status `status`, or `None` when the status did not
    /// come from the kernel (QEMU failed, was killed, or timed out).
    pub const fn from_qemu_status(status: i32) -> Option<ExitCode> {
        if status == ExitCode::Success.qemu_status() {
            Some(ExitCode::Success)
        } else if status == ExitCode::Failure.qemu_status() {
            Some(ExitCode::Failure)
        } else {
            None
        }
    }

    /// Returns the exit code named in a status line (`shoal: exit success`), if `line` is one.
    pub fn from_status_line(line: &str) -> Option<ExitCode> {
        let word = line.trim_end().strip_prefix(STATUS_PREFIX)?;
        let word = word.split_whitespace().next()?;
        match word {
            "success" => Some(ExitCode::Success),
            "failure" => Some(ExitCode::Failure),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_distinct_odd_and_never_one() {
        let success = ExitCode::Success.qemu_status();
        let failure = ExitCode::Failure.qemu_status();
        assert_eq!(success, 33);
        assert_eq!(failure, 35);
        assert_ne!(success, 1);
        assert_ne!(failure, 1);
    }

    #[test]
    fn qemu_status_round_trips() {
        for code in [ExitCode::Success, ExitCode::Failure] {
            assert_eq!(ExitCode::from_qemu_status(code.qemu_status()), Some(code));
        }
        assert_eq!(ExitCode::from_qemu_status(1), None);
        assert_eq!(ExitCode::from_qemu_status(0), None);
        assert_eq!(ExitCode::from_qemu_status(124), None);
    }

    #[test]
    fn status_lines_parse() {
        assert_eq!(ExitCode::from_status_line("shoal: exit success"), Some(ExitCode::Success));
        assert_eq!(
            ExitCode::from_status_line("shoal: exit failure (panic)\r"),
            Some(ExitCode::Failure)
        );
        assert_eq!(ExitCode::from_status_line("shoal: exit maybe"), None);
        assert_eq!(ExitCode::from_status_line("exit success"), None);
    }
}
