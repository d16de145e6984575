//! The kernel's configuration: the argument string from fw_cfg, parsed by `kernel-args`.
//!
//! The host tool passes arguments as the fw_cfg file `opt/shoal/args`. Without fw_cfg (Bochs,
//! real hardware) or without that file, the ramdisk's file `args` applies if the image has one
//! (the hardware image `build.rs` makes carries `test=hardware`), else the built-in defaults. Anything the parser does not
//! accept stops the boot with a message naming the problem — never a silent default.

#![deny(unsafe_code)]

use core::fmt;

use kernel_args::{ArgError, KernelArgs, MAX_ARGS_BYTES};

use crate::drivers::fw_cfg::{self, FwCfgError};

/// Where the configuration came from, for the boot log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The fw_cfg file, with this many bytes.
    FwCfg(usize),
    /// The ramdisk's `args` file, with this many bytes.
    Ramdisk(usize),
    /// No fw_cfg device or no argument file: built-in defaults.
    Defaults,
}

/// Why the arguments were refused.
#[derive(Debug)]
pub enum ConfigError<'a> {
    /// The fw_cfg file could not be read.
    FwCfg(FwCfgError),
    /// The text is not a valid argument string.
    Args(ArgError<'a>),
}

impl fmt::Display for ConfigError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::FwCfg(error) => write!(f, "reading {}: {error}", shoal_protocol::ARGS_FW_CFG_NAME),
            ConfigError::Args(error) => write!(f, "{error}"),
        }
    }
}

/// Reads and parses the kernel arguments; `buffer` holds the raw text (errors borrow from it).
///
/// # Errors
/// Returns a [`ConfigError`] when the file is too large or the arguments are not accepted.
pub fn load<'a>(
    buffer: &'a mut [u8; MAX_ARGS_BYTES],
    known_tests: &'static [&'static str],
) -> Result<(KernelArgs, Source), ConfigError<'a>> {
    match fw_cfg::read_file(shoal_protocol::ARGS_FW_CFG_NAME, buffer).map_err(ConfigError::FwCfg)? {
        Some(length) => {
            let args = kernel_args::parse_bytes(&buffer[..length], known_tests).map_err(ConfigError::Args)?;
            Ok((args, Source::FwCfg(length)))
        }
        None => match crate::ramdisk::args_file() {
            Some(bytes) => {
                let args = kernel_args::parse_bytes(bytes, known_tests).map_err(ConfigError::Args)?;
                Ok((args, Source::Ramdisk(bytes.len())))
            }
            None => Ok((KernelArgs::default(), Source::Defaults)),
        },
    }
}
