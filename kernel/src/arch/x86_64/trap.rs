//! The user register frame saved on the kernel stack at a system call.
//!
//! [`SyscallFrame`] is laid out exactly as `syscall_entry.rs` pushes it; the system-call
//! dispatcher reads the arguments from it and writes the results into it. User `rcx` and `r11`
//! hold the return address and flags (SYSCALL put them there), and SYSRET restores them.

/// The registers of a process at its `syscall` instruction, lowest address first.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct SyscallFrame {
    /// Saved r15.
    pub r15: u64,
    /// Saved r14.
    pub r14: u64,
    /// Saved r13.
    pub r13: u64,
    /// Saved r12.
    pub r12: u64,
    /// Fifth argument.
    pub r8: u64,
    /// Sixth argument.
    pub r9: u64,
    /// Fourth argument.
    pub r10: u64,
    /// Saved rbp.
    pub rbp: u64,
    /// First argument.
    pub rdi: u64,
    /// Second argument.
    pub rsi: u64,
    /// Third argument; the result value on return.
    pub rdx: u64,
    /// Saved rbx.
    pub rbx: u64,
    /// The call number; the error code on return.
    pub rax: u64,
    /// User RFLAGS (SYSCALL saved them in r11).
    pub user_rflags: u64,
    /// User return address (SYSCALL saved it in rcx).
    pub user_rip: u64,
    /// User stack pointer.
    pub user_rsp: u64,
}

/// Size of [`SyscallFrame`] in bytes; `syscall_entry.rs` pushes exactly this much.
pub const SYSCALL_FRAME_BYTES: usize = 16 * 8;

const _: () = assert!(core::mem::size_of::<SyscallFrame>() == SYSCALL_FRAME_BYTES);

impl SyscallFrame {
    /// Returns the six argument registers in ABI order (rdi, rsi, rdx, r10, r8, r9).
    pub fn arguments(&self) -> [u64; 6] {
        [self.rdi, self.rsi, self.rdx, self.r10, self.r8, self.r9]
    }

    /// Stores a result: error code in rax, value in rdx.
    pub fn set_result(&mut self, error_code: u64, value: u64) {
        self.rax = error_code;
        self.rdx = value;
    }
}
