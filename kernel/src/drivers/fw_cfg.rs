//! QEMU's firmware configuration device (fw_cfg), read through its legacy I/O-port interface.
//!
//! The host tool passes the kernel arguments as the fw_cfg file `opt/shoal/args`. The protocol
//! (QEMU `docs/specs/fw_cfg.rst`): select item 0 and read the signature `QEMU`; select the file
//! directory (item 0x19) and read a big-endian count, then 64-byte entries of (size: u32 BE,
//! select: u16 BE, reserved: u16, name: 56 bytes NUL-terminated); select a file's item and
//! stream its bytes. Machines without fw_cfg (Bochs, real hardware) read 0xff and fail the
//! signature check, so [`present`] is false there.

#![deny(unsafe_code)]

use crate::arch::x86_64::port;

/// Item holding the signature `QEMU`.
const SIGNATURE_ITEM: u16 = 0x0000;
/// Item holding the file directory.
const FILE_DIRECTORY_ITEM: u16 = 0x0019;
/// Bytes of a file name in a directory entry.
const FILE_NAME_BYTES: usize = 56;

/// Why a fw_cfg file could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FwCfgError {
    /// The file is larger than the buffer.
    TooLarge {
        /// The file's size.
        size_bytes: usize,
        /// The buffer's size.
        capacity_bytes: usize,
    },
}

impl core::fmt::Display for FwCfgError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FwCfgError::TooLarge { size_bytes, capacity_bytes } => write!(
                f,
                "the fw_cfg file holds {size_bytes} bytes; at most {capacity_bytes} are accepted"
            ),
        }
    }
}

fn read_bytes(buffer: &mut [u8]) {
    for byte in buffer.iter_mut() {
        *byte = port::fw_cfg_read_byte();
    }
}

fn read_be_u32() -> u32 {
    let mut bytes = [0u8; 4];
    read_bytes(&mut bytes);
    u32::from_be_bytes(bytes)
}

fn read_be_u16() -> u16 {
    let mut bytes = [0u8; 2];
    read_bytes(&mut bytes);
    u16::from_be_bytes(bytes)
}

/// Returns whether a fw_cfg device answers.
pub fn present() -> bool {
    port::fw_cfg_select(SIGNATURE_ITEM);
    let mut signature = [0u8; 4];
    read_bytes(&mut signature);
    &signature == b"QEMU"
}

/// Looks `name` up in the file directory; returns its item key and size.
fn find_file(name: &str) -> Option<(u16, usize)> {
    port::fw_cfg_select(FILE_DIRECTORY_ITEM);
    let count = read_be_u32();
    for _ in 0..count {
        let size = read_be_u32() as usize;
        let select = read_be_u16();
        let _reserved = read_be_u16();
        let mut entry_name = [0u8; FILE_NAME_BYTES];
        read_bytes(&mut entry_name);
        let length = entry_name.iter().position(|&byte| byte == 0).unwrap_or(FILE_NAME_BYTES);
        if &entry_name[..length] == name.as_bytes() {
            return Some((select, size));
        }
    }
    None
}

/// Reads the fw_cfg file `name` into `buffer`.
///
/// Returns `Ok(None)` when there is no fw_cfg device or no such file, and `Ok(Some(length))`
/// with the number of bytes read otherwise.
///
/// # Errors
/// Returns [`FwCfgError::TooLarge`] when the file does not fit in `buffer`.
pub fn read_file(name: &str, buffer: &mut [u8]) -> Result<Option<usize>, FwCfgError> {
    if !present() {
        return Ok(None);
    }
    let Some((select, size)) = find_file(name) else {
        return Ok(None);
    };
    if size > buffer.len() {
        return Err(FwCfgError::TooLarge { size_bytes: size, capacity_bytes: buffer.len() });
    }
    port::fw_cfg_select(select);
    read_bytes(&mut buffer[..size]);
    Ok(Some(size))
}
