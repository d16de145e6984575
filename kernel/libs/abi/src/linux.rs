//! The contract between shoal and the Linux binaries it runs (static-pie executables for
//! x86_64-unknown-linux-musl): how a binary's personality is known, and the FaaS protocol a Linux
//! function instance speaks over its standard descriptors. The same binary speaks it to shoal's
//! in-kernel driver and, on Linux, to a driver process over pipes.
//!
//! # Personality
//! A program built against shoal's own ABI (`userland/rt`) carries an ELF note ([`NOTE_NAME`],
//! [`NOTE_TYPE_PERSONALITY`], a 4-byte descriptor holding [`NOTE_ABI_VERSION`]) in a `PT_NOTE`
//! segment. Every other executable is a Linux one: its system calls take Linux numbers and it
//! starts with a Linux initial stack.
//!
//! # FaaS protocol
//! - The process argument a native instance gets in `rdi` is `argv[1]`, in decimal.
//! - An invocation is a frame on fd 0: a little-endian `u32` payload length, then that many
//!   payload bytes (at most [`crate::PAYLOAD_MAX_BYTES`]). A length of 0 means "shut down": the
//!   instance exits with 0. fd 0 is a stream: a read may return part of a frame, as from a pipe.
//!   A read of fd 0 that finds no data blocks: that is the instance waiting for work.
//! - A result is a frame on fd 1: the length [`RESULT_BYTES`] as a little-endian `u32`, then the
//!   result as a little-endian `u64` (what a native instance passes to `invoke_done`). fd 1 carries
//!   result frames only; a runtime logs to fd 2.
//! - An instance that cannot serve exits with a non-zero code after one line on fd 2 saying why,
//!   as a native one does (`abi::wasm::EXIT_*`).

/// Name of shoal's ELF note (without the terminating NUL, which the note carries).
pub const NOTE_NAME: &[u8] = b"shoal";
/// Note type of the personality note.
pub const NOTE_TYPE_PERSONALITY: u32 = 1;
/// Version of shoal's native ABI, the note's descriptor (a little-endian `u32`).
pub const NOTE_ABI_VERSION: u32 = 1;

/// Bytes of a frame's length prefix.
pub const FRAME_HEADER_BYTES: usize = 4;
/// Bytes of a result frame's payload: one little-endian `u64`.
pub const RESULT_BYTES: usize = 8;
/// Bytes of a whole result frame.
pub const RESULT_FRAME_BYTES: usize = FRAME_HEADER_BYTES + RESULT_BYTES;

/// Returns the invocation frame for `payload` (a 0-byte payload is the shut-down frame), or
/// `None` when the payload is longer than [`crate::PAYLOAD_MAX_BYTES`].
pub fn invocation_frame(payload: &[u8]) -> Option<([u8; FRAME_HEADER_BYTES + crate::PAYLOAD_MAX_BYTES as usize], usize)> {
    if payload.len() > crate::PAYLOAD_MAX_BYTES as usize {
        return None;
    }
    let mut frame = [0u8; FRAME_HEADER_BYTES + crate::PAYLOAD_MAX_BYTES as usize];
    frame[..FRAME_HEADER_BYTES].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    frame[FRAME_HEADER_BYTES..FRAME_HEADER_BYTES + payload.len()].copy_from_slice(payload);
    Some((frame, FRAME_HEADER_BYTES + payload.len()))
}

/// Returns the result frame carrying `result`.
pub fn result_frame(result: u64) -> [u8; RESULT_FRAME_BYTES] {
    let mut frame = [0u8; RESULT_FRAME_BYTES];
    frame[..FRAME_HEADER_BYTES].copy_from_slice(&(RESULT_BYTES as u32).to_le_bytes());
    frame[FRAME_HEADER_BYTES..].copy_from_slice(&result.to_le_bytes());
    frame
}

/// Why bytes are not a result frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Fewer bytes than a whole frame so far (a stream may deliver the rest later).
    Incomplete,
    /// The length prefix is not [`RESULT_BYTES`].
    WrongLength(u32),
}

/// Decodes the result frame at the start of `bytes`; returns the result.
///
/// # Errors
/// [`FrameError::Incomplete`] when `bytes` is shorter than a frame, [`FrameError::WrongLength`]
/// when its prefix is not [`RESULT_BYTES`].
pub fn decode_result_frame(bytes: &[u8]) -> Result<u64, FrameError> {
    let header: [u8; FRAME_HEADER_BYTES] = bytes.get(..FRAME_HEADER_BYTES).ok_or(FrameError::Incomplete)?.try_into().map_err(|_| FrameError::Incomplete)?;
    let length = u32::from_le_bytes(header);
    if length as usize != RESULT_BYTES {
        return Err(FrameError::WrongLength(length));
    }
    let value: [u8; RESULT_BYTES] = bytes.get(FRAME_HEADER_BYTES..RESULT_FRAME_BYTES).ok_or(FrameError::Incomplete)?.try_into().map_err(|_| FrameError::Incomplete)?;
    Ok(u64::from_le_bytes(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocation_frames_carry_a_little_endian_length_and_the_payload() {
        let (frame, length) = invocation_frame(&[7, 8, 9]).expect("short payload");
        assert_eq!(length, 7);
        assert_eq!(&frame[..7], &[3, 0, 0, 0, 7, 8, 9]);
        let (shutdown, length) = invocation_frame(&[]).expect("empty payload");
        assert_eq!(&shutdown[..length], &[0, 0, 0, 0]);
        assert!(invocation_frame(&[0; crate::PAYLOAD_MAX_BYTES as usize + 1]).is_none());
        assert!(invocation_frame(&[0; crate::PAYLOAD_MAX_BYTES as usize]).is_some());
    }

    #[test]
    fn result_frames_round_trip_and_bad_ones_are_named() {
        let frame = result_frame(0x0102_0304_0506_0708);
        assert_eq!(&frame[..4], &[8, 0, 0, 0]);
        assert_eq!(frame[4], 0x08);
        assert_eq!(decode_result_frame(&frame), Ok(0x0102_0304_0506_0708));
        assert_eq!(decode_result_frame(&frame[..11]), Err(FrameError::Incomplete));
        assert_eq!(decode_result_frame(&[4, 0, 0, 0, 1, 2, 3, 4]), Err(FrameError::WrongLength(4)));
    }
}
