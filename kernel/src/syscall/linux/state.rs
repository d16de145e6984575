//! What the kernel keeps for a Linux process beyond its address space: descriptors, the program
//! break, signal dispositions (recorded, never delivered), the FaaS frame buffers of fd 0 and
//! fd 1, the random-number state, and which unimplemented calls were reported already.

#![deny(unsafe_code)]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use abi::linux::{FRAME_HEADER_BYTES, RESULT_FRAME_BYTES};

use crate::mm::layout::{PAGE_BYTES, USER_HEAP_START};

/// Most descriptors a process may hold (`RLIMIT_NOFILE`).
pub const MAX_DESCRIPTORS: usize = 64;
/// Signals a disposition is kept for (1..=64; entry 0 unused).
pub const SIGNALS: usize = 65;
/// Bytes of a kernel `struct sigaction` (handler, flags, restorer, 8-byte mask).
pub const SIGACTION_BYTES: usize = 32;

/// A file opened from the ramdisk, shared by the descriptors `dup` made of it (one offset).
#[derive(Debug)]
pub struct OpenFile {
    /// Its path in the archive (no leading `/`); for a folder, the folder's path.
    pub path: alloc::string::String,
    /// Its bytes (empty for a folder).
    pub data: &'static [u8],
    /// Whether it is a folder.
    pub folder: bool,
    /// The file offset.
    pub offset: AtomicU64,
}

impl OpenFile {
    /// Returns the current offset.
    pub fn offset(&self) -> u64 {
        self.offset.load(Ordering::Relaxed)
    }

    /// Sets the offset.
    pub fn set_offset(&self, offset: u64) {
        self.offset.store(offset, Ordering::Relaxed);
    }
}

/// What a descriptor refers to.
#[derive(Clone, Debug)]
pub enum Descriptor {
    /// fd 0 as the process started: invocation frames for a FaaS instance, end of file for any
    /// other process.
    Input,
    /// fd 1 as started: result frames for an instance, the console for any other process.
    Output,
    /// fd 2 as started: the console.
    Log,
    /// A read-only ramdisk file or folder.
    File(Arc<OpenFile>),
}

/// The per-descriptor flag `FD_CLOEXEC` is kept (there is no exec to honour it).
#[derive(Clone, Debug)]
pub struct Slot {
    /// The open description.
    pub descriptor: Descriptor,
    /// `FD_CLOEXEC`.
    pub close_on_exec: bool,
}

/// The pending bytes of fd 0: one invocation frame, read out as a stream.
#[derive(Clone, Debug)]
pub struct InputFrame {
    /// The frame: length prefix and payload.
    pub bytes: [u8; FRAME_HEADER_BYTES + abi::PAYLOAD_MAX_BYTES as usize],
    /// Bytes of the frame.
    pub length: usize,
    /// Bytes already read.
    pub position: usize,
}

/// The Linux state of one process.
pub struct State {
    /// Descriptors by number.
    pub descriptors: [Option<Slot>; MAX_DESCRIPTORS],
    /// First address of the program break's mapping.
    pub break_start: u64,
    /// The current break (page aligned: `brk` rounds up).
    pub break_end: u64,
    /// Dispositions set with `rt_sigaction`, as the process wrote them.
    pub signal_actions: [[u8; SIGACTION_BYTES]; SIGNALS],
    /// The blocked-signal mask.
    pub signal_mask: u64,
    /// The alternate signal stack (`ss_sp`, `ss_flags`, `ss_size`).
    pub alternate_stack: [u64; 3],
    /// What `set_tid_address` recorded.
    pub clear_child_tid: u64,
    /// What `set_robust_list` recorded (head, length).
    pub robust_list: (u64, u64),
    /// fd 0's current invocation frame, if part of it is unread.
    pub input: Option<InputFrame>,
    /// An incomplete result frame written to fd 1 so far.
    pub output: [u8; RESULT_FRAME_BYTES],
    /// Bytes of `output` filled.
    pub output_length: usize,
    /// Unimplemented call numbers reported already: a bit per number below 512, and the last bit
    /// of the last word stands for every number from 511 on (no Linux call has one), so a
    /// process cycling through huge numbers is reported once, not once per number.
    pub reported: [u64; 8],
    /// The state of the process's random generator (`getrandom`).
    pub random: u64,
}

impl State {
    /// Returns the state of a new process with fds 0, 1 and 2 open and an empty break whose
    /// generator starts from `seed`.
    pub fn new(seed: u64) -> State {
        let mut descriptors: [Option<Slot>; MAX_DESCRIPTORS] = core::array::from_fn(|_| None);
        descriptors[0] = Some(Slot { descriptor: Descriptor::Input, close_on_exec: false });
        descriptors[1] = Some(Slot { descriptor: Descriptor::Output, close_on_exec: false });
        descriptors[2] = Some(Slot { descriptor: Descriptor::Log, close_on_exec: false });
        const _: () = assert!(USER_HEAP_START.is_multiple_of(PAGE_BYTES));
        State {
            descriptors,
            break_start: USER_HEAP_START,
            break_end: USER_HEAP_START,
            signal_actions: [[0; SIGACTION_BYTES]; SIGNALS],
            signal_mask: 0,
            alternate_stack: [0, SS_DISABLE, 0],
            clear_child_tid: 0,
            robust_list: (0, 0),
            input: None,
            output: [0; RESULT_FRAME_BYTES],
            output_length: 0,
            reported: [0; 8],
            random: seed | 1,
        }
    }

    /// Returns whether unimplemented call `number` is reported for the first time (and records
    /// it); every number from 511 on shares one record.
    pub fn first_report(&mut self, number: u64) -> bool {
        let number = number.min(511);
        let word = &mut self.reported[(number / 64) as usize];
        let bit = 1u64 << (number % 64);
        let first = *word & bit == 0;
        *word |= bit;
        first
    }

    /// Returns the lowest free descriptor number at or above `minimum`.
    pub fn free_descriptor(&self, minimum: usize) -> Option<usize> {
        (minimum..MAX_DESCRIPTORS).find(|&fd| self.descriptors[fd].is_none())
    }

    /// Returns the slot of descriptor `fd`.
    pub fn slot(&self, fd: u64) -> Option<&Slot> {
        self.descriptors.get(usize::try_from(fd).ok()?)?.as_ref()
    }

    /// Fills `bytes` from the process's generator (xorshift64*: deterministic for a given seed,
    /// which is what the study needs; not cryptographic, and the README says so).
    pub fn fill_random(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            self.random ^= self.random >> 12;
            self.random ^= self.random << 25;
            self.random ^= self.random >> 27;
            let value = self.random.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
            chunk.copy_from_slice(&value[..chunk.len()]);
        }
    }
}

/// `ss_flags` of a disabled alternate stack.
pub const SS_DISABLE: u64 = 2;
