//! The marker protocol through which the shoal kernel talks to the `tlbsim` QEMU plugin.
//!
//! The plugin (`tlbsim/`, see its README) watches every instruction QEMU translates. A
//! *marker* is an instruction that is architecturally a no-operation on every x86-64 CPU, so
//! the kernel can leave markers in on real hardware at the cost of one multi-byte NOP, yet the
//! plugin recognises them by their bytes:
//!
//! ```text
//! nop dword ptr [rax + disp32]     0F 1F 80 <disp32, little-endian>
//! disp32 = 0x544C_0000 + command number          ("TL" in the high half)
//! ```
//!
//! The command's argument is the value of RAX when the marker executes (the marker's memory
//! operand is never accessed: NOP does not touch memory). Only this exact 7-byte encoding is a
//! marker: no prefixes, no REX, ModRM `80` (mod=10, reg=0, rm=RAX) and a 32-bit displacement
//! whose high half is [`DISPLACEMENT_BASE`]`>> 16`.
//!
//! # Commands ([`Command`]; the numbers never change meaning)
//!
//! | number | command | RAX |
//! |---|---|---|
//! | 1 | [`Command::BeginPhase`] | the phase id (the kernel prints it in its own result line) |
//! | 2 | [`Command::EndPhase`] | the phase id |
//! | 3 | [`Command::NamePhase`] | up to 8 name bytes, little-endian, appended to the next phase's name |
//! | 4 | [`Command::Reset`] | ignored |
//! | 5 | [`Command::Dump`] | ignored |
//! | 6 | [`Command::SimulatePcid`] | 1: model CR4.PCIDE=1 from now on; 0: back to the real bit |
//! | 7 | [`Command::KeepNextCr3`] | ignored |
//! | 8 | [`Command::ZeroCounters`] | ignored |
//! | 9 | [`Command::FlushTlbs`] | ignored |
//! | 10 | [`Command::WindowStart`] | the first address of the global-segment window |
//! | 11 | [`Command::WindowEnd`] | the address just past the window (half-open range) |
//! | 12 | [`Command::DriverSpace`] | ignored (0); the current address space is the driver's |
//!
//! `Reset` (4) both empties the modelled TLBs and zeroes the counters, so a phase that starts
//! after it measures cold TLBs. To measure a warm steady state, warm up and then send
//! `ZeroCounters` (8), which keeps everything the TLBs hold; to measure a cold start on purpose,
//! send `FlushTlbs` (9), which empties the modelled TLBs without touching the counters or the
//! open phase. Neither is an architectural event: the model's flush counters do not count them.
//!
//! `WindowStart` (10) and `WindowEnd` (11) tell the plugin where the global-segment window lies,
//! so that it can attribute each page walk to the window, the kernel half or the private rest of
//! the address space. The kernel sends both once at boot; the range is `start..end`, and until
//! both have arrived (or if `end <= start`) no walk is attributed to the window.
//!
//! `DriverSpace` (12) tells the plugin that the address space current when the marker executes
//! belongs to the FaaS driver: its page-table root, CR3 with the PCID (bits 11:0) and bit 63
//! masked off, is the driver's. The plugin then also counts the walks made while that root is
//! current, whatever their region, beside the total (on a Linux guest the driver is a user
//! process and every invocation switches to the instance and back). A later `DriverSpace`
//! replaces the root; until the first one arrives no walk is attributed to the driver.
//!
//! A phase is named by zero or more `NamePhase` markers *before* its `BeginPhase`: each appends
//! the bytes of its word from the lowest byte up, stopping at the first zero byte
//! ([`name_words`] splits a name into those words). `BeginPhase` takes the collected name and
//! empties it. Phase id [`WHOLE_RUN_PHASE_ID`] is reserved for the plugin's own report of the
//! whole run, named [`WHOLE_RUN_PHASE_NAME`].
//!
//! # Emitting a marker (kernel side)
//!
//! This crate has no unsafe code, so the `asm!` lives in the kernel's `arch/` module:
//!
//! ```ignore
//! /// Emits the tlbsim marker with displacement `DISPLACEMENT` and argument `argument`.
//! #[inline(always)]
//! pub fn tlbsim_marker<const DISPLACEMENT: u32>(argument: u64) {
//!     // SAFETY: a multi-byte NOP: it reads RAX only to keep the argument there and has no
//!     // architectural effect. No `nomem`: the marker is also a compiler memory barrier, so the
//!     // accesses of a phase stay between its markers.
//!     unsafe {
//!         core::arch::asm!(
//!             ".byte 0x0f, 0x1f, 0x80",
//!             ".4byte {displacement}",
//!             displacement = const DISPLACEMENT,
//!             in("rax") argument,
//!             options(nostack, preserves_flags),
//!         )
//!     };
//! }
//! // tlbsim_marker::<{ tlbsim_protocol::Command::BeginPhase.displacement() }>(phase_id);
//! ```
//!
//! # Simulated PCID
//!
//! QEMU TCG has no PCID, and a MOV to CR3 with bit 63 set hangs it. To measure PCID modes under
//! TCG the kernel keeps the real CR4.PCIDE clear and, after a `SimulatePcid` marker with RAX=1:
//! writes CR3 as `root | pcid` with bit 63 clear; emits `KeepNextCr3` right before each CR3
//! write that would carry bit 63 on hardware (the plugin then models that write as
//! non-flushing). The plugin models the `SimulatePcid` marker itself as the MOV to CR4 that
//! would set (RAX=1) or clear (RAX=0) PCIDE on hardware, so clearing it flushes everything. Set
//! it while CR3 bits 11:0 are zero, as the architecture requires for setting CR4.PCIDE. On a CPU
//! with PCID the kernel uses the real bits and never emits these two markers.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

/// The three bytes every marker starts with: opcode `0F 1F` (NOP r/m32) and ModRM `80`
/// (mod=10: a 32-bit displacement follows; reg=0; rm=000: base RAX).
pub const MARKER_OPCODE: [u8; 3] = [0x0f, 0x1f, 0x80];

/// Length of a marker instruction in bytes: the opcode bytes plus a 32-bit displacement.
pub const MARKER_LENGTH_BYTES: usize = MARKER_OPCODE.len() + 4;

/// The displacement of command number 0; a command's displacement is this plus its number.
/// `0x54 0x4C` is "TL" in ASCII.
pub const DISPLACEMENT_BASE: u32 = 0x544c_0000;

/// Mask of the displacement bits that hold the command number.
pub const DISPLACEMENT_COMMAND_MASK: u32 = 0x0000_ffff;

/// Bytes of a phase name that one [`Command::NamePhase`] marker carries.
pub const NAME_WORD_BYTES: usize = 8;

/// Longest phase name the plugin keeps; further bytes are dropped (the plugin warns).
pub const MAX_NAME_BYTES: usize = 64;

/// Phase id of the plugin's own report of the whole run (from the start, or the last
/// [`Command::Reset`], to QEMU's exit). The kernel never uses it for a phase of its own.
pub const WHOLE_RUN_PHASE_ID: u64 = 0;

/// Name of the plugin's whole-run report.
pub const WHOLE_RUN_PHASE_NAME: &str = "whole-run";

/// RAX of [`Command::SimulatePcid`] that turns simulated PCIDE on.
pub const SIMULATE_PCID_ON: u64 = 1;

/// RAX of [`Command::SimulatePcid`] that turns simulated PCIDE off (back to the real CR4 bit).
pub const SIMULATE_PCID_OFF: u64 = 0;

/// A marker command. The discriminant is the command number; numbers are fixed forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Command {
    /// Begins a measured phase with id RAX, named by the preceding [`Command::NamePhase`]
    /// markers. An open phase is ended (and reported) first.
    BeginPhase = 1,
    /// Ends the open phase, whose id should be RAX, and prints its report line.
    EndPhase = 2,
    /// Appends the up to 8 bytes of RAX (lowest byte first, up to the first zero byte) to the
    /// name of the next phase.
    NamePhase = 3,
    /// Zeroes all counters, empties every modelled TLB and drops the open phase unreported.
    Reset = 4,
    /// Prints a report line of the open phase (or of the whole run, if none is open) without
    /// ending it.
    Dump = 5,
    /// RAX = [`SIMULATE_PCID_ON`]: from now on the plugin models CR4.PCIDE=1 although the real
    /// CR4 has it clear; RAX = [`SIMULATE_PCID_OFF`]: back to the real bit.
    SimulatePcid = 6,
    /// The next MOV to CR3 keeps the new PCID's entries, as if its bit 63 were set.
    KeepNextCr3 = 7,
    /// Zeroes all counters (the whole run's and the open phase's, which stays open) and keeps
    /// every modelled TLB's contents: the start of a warm measurement.
    ZeroCounters = 8,
    /// Empties every modelled TLB, keeping the counters and the open phase: an explicit cold
    /// start. Not counted as a flush of the guest's.
    FlushTlbs = 9,
    /// RAX is the first linear address of the global-segment window.
    WindowStart = 10,
    /// RAX is the linear address just past the global-segment window (the range is half-open).
    WindowEnd = 11,
    /// The address space current at this marker (its CR3 page-table root, PCID and bit 63
    /// masked off) is the FaaS driver's; replaces an earlier one. RAX is ignored (send 0).
    DriverSpace = 12,
}

impl Command {
    /// Every command, in number order.
    pub const ALL: [Command; 12] = [
        Command::BeginPhase,
        Command::EndPhase,
        Command::NamePhase,
        Command::Reset,
        Command::Dump,
        Command::SimulatePcid,
        Command::KeepNextCr3,
        Command::ZeroCounters,
        Command::FlushTlbs,
        Command::WindowStart,
        Command::WindowEnd,
        Command::DriverSpace,
    ];

    /// Returns the command number.
    pub const fn number(self) -> u16 {
        self as u16
    }

    /// Returns the command with number `number`, or `None` for an unknown number.
    pub const fn from_number(number: u16) -> Option<Command> {
        match number {
            1 => Some(Command::BeginPhase),
            2 => Some(Command::EndPhase),
            3 => Some(Command::NamePhase),
            4 => Some(Command::Reset),
            5 => Some(Command::Dump),
            6 => Some(Command::SimulatePcid),
            7 => Some(Command::KeepNextCr3),
            8 => Some(Command::ZeroCounters),
            9 => Some(Command::FlushTlbs),
            10 => Some(Command::WindowStart),
            11 => Some(Command::WindowEnd),
            12 => Some(Command::DriverSpace),
            _ => None,
        }
    }

    /// Returns the marker's 32-bit displacement for this command, for the kernel's `asm!`.
    pub const fn displacement(self) -> u32 {
        DISPLACEMENT_BASE + self.number() as u32
    }

    /// Returns the command whose displacement is `displacement`, or `None` if the displacement
    /// lies outside the marker range or names an unknown command.
    pub const fn from_displacement(displacement: u32) -> Option<Command> {
        if displacement & !DISPLACEMENT_COMMAND_MASK != DISPLACEMENT_BASE {
            return None;
        }
        Command::from_number((displacement & DISPLACEMENT_COMMAND_MASK) as u16)
    }

    /// Returns the seven bytes of this command's marker instruction.
    pub const fn encode(self) -> [u8; MARKER_LENGTH_BYTES] {
        let displacement = self.displacement().to_le_bytes();
        [
            MARKER_OPCODE[0],
            MARKER_OPCODE[1],
            MARKER_OPCODE[2],
            displacement[0],
            displacement[1],
            displacement[2],
            displacement[3],
        ]
    }

    /// Returns the command's name as the plugin prints it in warnings, e.g. `begin-phase`.
    pub const fn name(self) -> &'static str {
        match self {
            Command::BeginPhase => "begin-phase",
            Command::EndPhase => "end-phase",
            Command::NamePhase => "name-phase",
            Command::Reset => "reset",
            Command::Dump => "dump",
            Command::SimulatePcid => "simulate-pcid",
            Command::KeepNextCr3 => "keep-next-cr3",
            Command::ZeroCounters => "zero-counters",
            Command::FlushTlbs => "flush-tlbs",
            Command::WindowStart => "window-start",
            Command::WindowEnd => "window-end",
            Command::DriverSpace => "driver-space",
        }
    }
}

/// Returns the seven bytes of `command`'s marker instruction.
pub const fn encode(command: Command) -> [u8; MARKER_LENGTH_BYTES] {
    command.encode()
}

/// Returns the marker displacement of `instruction`, the bytes of exactly one instruction, if
/// it has the marker encoding (whatever the command number).
pub fn marker_displacement(instruction: &[u8]) -> Option<u32> {
    let (opcode, displacement) = instruction.split_first_chunk::<3>()?;
    let displacement: &[u8; 4] = displacement.try_into().ok()?;
    let displacement = u32::from_le_bytes(*displacement);
    (*opcode == MARKER_OPCODE && displacement & !DISPLACEMENT_COMMAND_MASK == DISPLACEMENT_BASE)
        .then_some(displacement)
}

/// Decodes `instruction`, the bytes of exactly one instruction: returns the command if it is a
/// marker of a known command, `None` otherwise (another instruction, another length, a
/// displacement outside the marker range, or an unknown command number).
pub fn decode(instruction: &[u8]) -> Option<Command> {
    Command::from_displacement(marker_displacement(instruction)?)
}

/// Returns the RAX values of the [`Command::NamePhase`] markers that spell `name`: 8 bytes per
/// word, lowest byte first, the last word padded with zero bytes. An empty name needs no
/// marker. A zero byte inside `name` would end it early on the plugin side.
pub fn name_words(name: &[u8]) -> impl Iterator<Item = u64> + '_ {
    name.chunks(NAME_WORD_BYTES).map(|chunk| {
        let mut bytes = [0u8; NAME_WORD_BYTES];
        bytes[..chunk.len()].copy_from_slice(chunk);
        u64::from_le_bytes(bytes)
    })
}

/// Unpacks the RAX of a [`Command::NamePhase`] marker: returns its 8 bytes, lowest first, and
/// how many of them precede the first zero byte (the ones that belong to the name).
pub const fn unpack_name_word(word: u64) -> ([u8; NAME_WORD_BYTES], usize) {
    let bytes = word.to_le_bytes();
    let mut length = 0;
    while length < NAME_WORD_BYTES && bytes[length] != 0 {
        length += 1;
    }
    (bytes, length)
}

/// The name of the next phase as the plugin collects it from [`Command::NamePhase`] markers,
/// in a fixed buffer of [`MAX_NAME_BYTES`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameCollector {
    /// The collected bytes; only the first `length` are meaningful.
    bytes: [u8; MAX_NAME_BYTES],
    /// Number of bytes collected.
    length: usize,
    /// Whether a word had to be cut because the buffer was full.
    truncated: bool,
}

impl Default for NameCollector {
    fn default() -> Self {
        NameCollector::new()
    }
}

impl NameCollector {
    /// Returns an empty collector.
    pub const fn new() -> NameCollector {
        NameCollector {
            bytes: [0; MAX_NAME_BYTES],
            length: 0,
            truncated: false,
        }
    }

    /// Appends the bytes of one `NamePhase` word (up to its first zero byte); bytes beyond
    /// [`MAX_NAME_BYTES`] are dropped and mark the name as truncated.
    pub fn push_word(&mut self, word: u64) {
        let (bytes, length) = unpack_name_word(word);
        for &byte in &bytes[..length] {
            if self.length == MAX_NAME_BYTES {
                self.truncated = true;
                return;
            }
            self.bytes[self.length] = byte;
            self.length += 1;
        }
    }

    /// Returns the bytes collected so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.length]
    }

    /// Reports whether bytes were dropped because the name grew past [`MAX_NAME_BYTES`].
    pub const fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Empties the collector (after `BeginPhase` took the name).
    pub fn clear(&mut self) {
        *self = NameCollector::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_numbers_are_pinned() {
        let numbers: Vec<(Command, u16)> = Command::ALL
            .iter()
            .map(|command| (*command, command.number()))
            .collect();
        assert_eq!(
            numbers,
            vec![
                (Command::BeginPhase, 1),
                (Command::EndPhase, 2),
                (Command::NamePhase, 3),
                (Command::Reset, 4),
                (Command::Dump, 5),
                (Command::SimulatePcid, 6),
                (Command::KeepNextCr3, 7),
                (Command::ZeroCounters, 8),
                (Command::FlushTlbs, 9),
                (Command::WindowStart, 10),
                (Command::WindowEnd, 11),
                (Command::DriverSpace, 12),
            ]
        );
    }

    #[test]
    fn begin_phase_bytes_are_pinned() {
        assert_eq!(
            encode(Command::BeginPhase),
            [0x0f, 0x1f, 0x80, 0x01, 0x00, 0x4c, 0x54]
        );
        assert_eq!(Command::KeepNextCr3.displacement(), 0x544c_0007);
        assert_eq!(
            encode(Command::DriverSpace),
            [0x0f, 0x1f, 0x80, 0x0c, 0x00, 0x4c, 0x54]
        );
    }

    #[test]
    fn every_command_round_trips() {
        for command in Command::ALL {
            let bytes = command.encode();
            assert_eq!(bytes.len(), MARKER_LENGTH_BYTES);
            assert_eq!(decode(&bytes), Some(command), "{command:?}");
            assert_eq!(Command::from_number(command.number()), Some(command));
            assert_eq!(
                Command::from_displacement(command.displacement()),
                Some(command)
            );
            assert_eq!(marker_displacement(&bytes), Some(command.displacement()));
        }
    }

    #[test]
    fn names_are_distinct() {
        for (index, command) in Command::ALL.iter().enumerate() {
            for other in &Command::ALL[index + 1..] {
                assert_ne!(command.name(), other.name());
            }
        }
    }

    #[test]
    fn unknown_numbers_and_displacements_decode_to_none() {
        let with_displacement = |displacement: u32| {
            let mut bytes = [0u8; MARKER_LENGTH_BYTES];
            bytes[..3].copy_from_slice(&MARKER_OPCODE);
            bytes[3..].copy_from_slice(&displacement.to_le_bytes());
            bytes
        };
        // Command 0 and numbers past the last command: in the range, but unknown.
        for number in [0u32, 13, 0x100, 0xffff] {
            let bytes = with_displacement(DISPLACEMENT_BASE + number);
            assert_eq!(decode(&bytes), None, "number {number:#x}");
            assert_eq!(
                marker_displacement(&bytes),
                Some(DISPLACEMENT_BASE + number)
            );
        }
        // Outside the marker range: an ordinary NOP with a displacement.
        for displacement in [0, 0x544b_ffff, 0x544d_0001, 0x0000_0001, 0xffff_ffff] {
            let bytes = with_displacement(displacement);
            assert_eq!(decode(&bytes), None, "displacement {displacement:#x}");
            assert_eq!(marker_displacement(&bytes), None);
        }
    }

    #[test]
    fn other_encodings_are_not_markers() {
        let marker = Command::Dump.encode();
        // Too short, too long.
        assert_eq!(decode(&marker[..6]), None);
        let mut longer = marker.to_vec();
        longer.push(0x90);
        assert_eq!(decode(&longer), None);
        assert_eq!(decode(&[]), None);
        // Another ModRM (rm=RCX), another opcode (0F 1E), a prefix.
        let mut other_modrm = marker;
        other_modrm[2] = 0x81;
        assert_eq!(decode(&other_modrm), None);
        let mut other_opcode = marker;
        other_opcode[1] = 0x1e;
        assert_eq!(decode(&other_opcode), None);
        let mut prefixed = vec![0x66];
        prefixed.extend_from_slice(&marker);
        assert_eq!(decode(&prefixed), None);
    }

    /// Builds the name `length` bytes long: `a`, `b`, ... cycling through the alphabet.
    fn test_name(length: usize) -> Vec<u8> {
        (0..length).map(|index| b'a' + (index % 26) as u8).collect()
    }

    #[test]
    fn names_of_0_to_40_bytes_round_trip() {
        for length in 0..=40 {
            let name = test_name(length);
            let words: Vec<u64> = name_words(&name).collect();
            assert_eq!(
                words.len(),
                length.div_ceil(NAME_WORD_BYTES),
                "length {length}"
            );
            let mut collector = NameCollector::new();
            for word in &words {
                collector.push_word(*word);
            }
            assert_eq!(collector.as_bytes(), name.as_slice(), "length {length}");
            assert!(!collector.is_truncated());
            // Word by word, too.
            let mut unpacked = Vec::new();
            for word in words {
                let (bytes, used) = unpack_name_word(word);
                unpacked.extend_from_slice(&bytes[..used]);
            }
            assert_eq!(unpacked, name);
        }
    }

    #[test]
    fn name_words_are_little_endian() {
        let words: Vec<u64> = name_words(b"density-n64").collect();
        assert_eq!(words, vec![u64::from_le_bytes(*b"density-"), 0x0034_366e]);
        assert_eq!(unpack_name_word(0x0034_366e), (*b"n64\0\0\0\0\0", 3));
        assert_eq!(unpack_name_word(0), ([0; 8], 0));
    }

    #[test]
    fn a_zero_byte_ends_a_word_early() {
        let mut collector = NameCollector::new();
        collector.push_word(u64::from_le_bytes(*b"ab\0cdefg"));
        collector.push_word(u64::from_le_bytes(*b"hi\0\0\0\0\0\0"));
        assert_eq!(collector.as_bytes(), b"abhi");
    }

    #[test]
    fn long_names_are_truncated_and_flagged() {
        let name = test_name(MAX_NAME_BYTES + 5);
        let mut collector = NameCollector::new();
        for word in name_words(&name) {
            collector.push_word(word);
        }
        assert_eq!(collector.as_bytes(), &name[..MAX_NAME_BYTES]);
        assert!(collector.is_truncated());
        collector.clear();
        assert_eq!(collector.as_bytes(), b"");
        assert!(!collector.is_truncated());
    }
}
