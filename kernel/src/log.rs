//! Leveled kernel logging on top of the serial console.
//!
//! `error!`, `warn!`, `info!`, `debug!` and `trace!` print `[level] message` when the level is
//! at or above the threshold set by the `log=` kernel argument (default `info`). Plain
//! `println!` output (the banner, reports, result lines) is never filtered.

#![deny(unsafe_code)]

use core::sync::atomic::{AtomicU8, Ordering};

pub use kernel_args::LogLevel;

/// The most verbose level that is printed, as `LogLevel as u8`.
static THRESHOLD: AtomicU8 = AtomicU8::new(LogLevel::Info as u8);

/// Sets the most verbose level that is printed.
pub fn set_level(level: LogLevel) {
    THRESHOLD.store(level as u8, Ordering::Relaxed);
}

/// Returns whether messages of `level` are printed.
pub fn enabled(level: LogLevel) -> bool {
    level as u8 <= THRESHOLD.load(Ordering::Relaxed)
}

/// Prints one log line if `level` is enabled. Used by the level macros.
pub fn log(level: LogLevel, arguments: core::fmt::Arguments<'_>) {
    if enabled(level) {
        crate::println!("[{:>5}] {}", level.as_str(), arguments);
    }
}

/// Logs at error level.
#[macro_export]
macro_rules! error {
    ($($argument:tt)*) => ($crate::log::log($crate::log::LogLevel::Error, format_args!($($argument)*)));
}
/// Logs at warning level.
#[macro_export]
macro_rules! warn {
    ($($argument:tt)*) => ($crate::log::log($crate::log::LogLevel::Warn, format_args!($($argument)*)));
}
/// Logs at info level.
#[macro_export]
macro_rules! info {
    ($($argument:tt)*) => ($crate::log::log($crate::log::LogLevel::Info, format_args!($($argument)*)));
}
/// Logs at debug level.
#[macro_export]
macro_rules! debug {
    ($($argument:tt)*) => ($crate::log::log($crate::log::LogLevel::Debug, format_args!($($argument)*)));
}
/// Logs at trace level.
#[macro_export]
macro_rules! trace {
    ($($argument:tt)*) => ($crate::log::log($crate::log::LogLevel::Trace, format_args!($($argument)*)));
}
