//! The shoal userland runtime: what every user program links against.
//!
//! - the entry point: a program defines `fn main(argument: u64) -> u64` and invokes
//!   [`entry!`]; the kernel starts the process at `_start` with `argument` in `rdi`, and the
//!   runtime exits with `main`'s return value. [`entry!`] also puts shoal's personality note
//!   ([`abi::linux`]) into the program: without it the kernel would take the file for a Linux
//!   executable;
//! - system-call wrappers over the shared [`abi`] crate ([`syscall`]);
//! - a global allocator whose memory comes from the `heap_grow` system call;
//! - a panic handler that prints the message and exits with [`PANIC_EXIT_CODE`];
//! - `print!`/`println!` to the console.
//!
//! Programs are built for x86_64-unknown-none as static position-independent executables; the
//! kernel applies their R_X86_64_RELATIVE relocations when it loads them.

#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod faas;
#[cfg(not(target_os = "linux"))]
pub mod syscall;
use core::alloc::{GlobalAlloc, Layout};
use core::fmt::{self, Write};

pub use abi;

/// Exit code of a program that panicked.
pub const PANIC_EXIT_CODE: u64 = 101;
/// Bytes the heap grows by at a time (at least).
const HEAP_CHUNK_BYTES: usize = 64 * 1024;

/// shoal's personality note, as it lies in a `.note` section: `namesz`, `descsz`, `type`, the
/// NUL-terminated name padded to 4 bytes, and the 4-byte descriptor (the ABI version).
#[repr(C, align(4))]
pub struct PersonalityNote {
    name_bytes: u32,
    descriptor_bytes: u32,
    note_type: u32,
    name: [u8; 8],
    version: u32,
}

impl PersonalityNote {
    /// The note of this ABI version.
    pub const NOTE: PersonalityNote = {
        let mut name = [0u8; 8];
        let mut index = 0;
        while index < abi::linux::NOTE_NAME.len() {
            name[index] = abi::linux::NOTE_NAME[index];
            index += 1;
        }
        PersonalityNote {
            name_bytes: abi::linux::NOTE_NAME.len() as u32 + 1,
            descriptor_bytes: 4,
            note_type: abi::linux::NOTE_TYPE_PERSONALITY,
            name,
            version: abi::linux::NOTE_ABI_VERSION,
        }
    };
}

const _: () = assert!(abi::linux::NOTE_NAME.len() < 8, "the note's name field holds the name and its NUL");

/// Defines `_start` (runs `$main(argument)`, exits with its result) and the personality note, in
/// the program's crate: the linker drops unreferenced library sections. (Linux: see the file end.)
#[cfg(not(target_os = "linux"))]
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        /// Marks the program as written against shoal's ABI (a `PT_NOTE` segment).
        #[used]
        #[unsafe(link_section = ".note.shoal.personality")]
        static SHOAL_PERSONALITY_NOTE: $crate::PersonalityNote = $crate::PersonalityNote::NOTE;

        /// The process entry point: the kernel jumps here with the spawn argument in `rdi`.
        #[unsafe(no_mangle)]
        pub extern "C" fn _start(argument: u64) -> ! {
            let main: fn(u64) -> u64 = $main;
            $crate::syscall::exit(main(argument))
        }
    };
}

/// Writes formatted text to the console in one `write` call per 256 bytes.
pub fn print_fmt(arguments: fmt::Arguments<'_>) {
    struct Console {
        buffer: [u8; 256],
        used: usize,
    }
    impl Console {
        fn flush(&mut self) {
            if self.used > 0 {
                // A console write failure has nowhere to be reported; drop the text.
                let _ = syscall::write(&self.buffer[..self.used]);
                self.used = 0;
            }
        }
    }
    impl Write for Console {
        fn write_str(&mut self, text: &str) -> fmt::Result {
            for &byte in text.as_bytes() {
                if self.used == self.buffer.len() {
                    self.flush();
                }
                self.buffer[self.used] = byte;
                self.used += 1;
            }
            Ok(())
        }
    }
    let mut console = Console { buffer: [0; 256], used: 0 };
    let _ = console.write_fmt(arguments);
    console.flush();
}

/// Prints to the console.
#[macro_export]
macro_rules! print {
    ($($argument:tt)*) => ($crate::print_fmt(format_args!($($argument)*)));
}

/// Prints to the console, with a newline.
#[macro_export]
macro_rules! println {
    () => ($crate::print!("\n"));
    ($($argument:tt)*) => ($crate::print_fmt(format_args!("{}\n", format_args!($($argument)*))));
}

/// The global allocator: a linked-list heap that grows through `heap_grow`.
struct Heap(linked_list_allocator::LockedHeap);

// SAFETY: allocation is delegated to `linked_list_allocator`, whose memory always comes from
// `heap_grow`: fresh, zeroed, writable pages that only this process maps and nothing else uses.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut heap = self.0.lock();
        if let Ok(block) = heap.allocate_first_fit(layout) {
            return block.as_ptr();
        }
        // Room for the block, its alignment and the allocator's own bookkeeping (a request of
        // exactly 64 KiB needs more than 64 KiB), in whole pages: the kernel maps pages anyway.
        const BOOKKEEPING_BYTES: usize = 64;
        const PAGE_BYTES: usize = 4096;
        let grow_bytes = (layout.size() + layout.align() + BOOKKEEPING_BYTES).max(HEAP_CHUNK_BYTES).next_multiple_of(PAGE_BYTES);
        let Ok(start) = syscall::heap_grow(grow_bytes as u64) else {
            return core::ptr::null_mut();
        };
        if heap.size() == 0 {
            // SAFETY: `start` is the start of `grow_bytes` fresh bytes mapped for this process.
            unsafe { heap.init(start as *mut u8, grow_bytes) };
        } else {
            // SAFETY: the kernel maps heap growth contiguously after the previous end, which is
            // where the allocator's region ends; `extend` adds exactly the new bytes.
            unsafe { heap.extend(grow_bytes) };
        }
        heap.allocate_first_fit(layout).map_or(core::ptr::null_mut(), |block| block.as_ptr())
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        if let Some(pointer) = core::ptr::NonNull::new(pointer) {
            // SAFETY: the caller passes a block this allocator returned, with its layout.
            unsafe { self.0.lock().deallocate(pointer, layout) };
        }
    }
}

#[global_allocator]
static HEAP: Heap = Heap(linked_list_allocator::LockedHeap::empty());

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!("panic: {info}");
    syscall::exit(PANIC_EXIT_CODE)
}

// The Linux build (x86_64-unknown-linux-musl: the `*-musl` programs of `userland/linux`, the
// native workloads built from their own sources so that the Linux baseline runs the same code).
// The same API: `syscall` is the Linux backend in `linux.rs` (the console is fd 2, the heap grows
// with `brk`, `invoke_wait`/`invoke_done` read and write the frames of `abi::linux` on fds 0
// and 1; see there), `entry!` below defines C's `main` for musl's start-up code and no
// personality note (shoal runs the program as a Linux binary), and the rest of this file is
// shared. Everything Linux-only is behind `cfg(target_os = "linux")` and comes after the native
// code, whose line numbers are unchanged: panic locations carry them into the binaries, which so
// stay byte-for-byte what they were.

#[cfg(target_os = "linux")]
#[path = "linux.rs"]
pub mod syscall;

/// Defines C's `main`, which calls `$main(argument)` with `argv[1]` parsed as a decimal `u64`
/// (shoal puts a Linux process's argument there; 0 without one) and exits with its result.
///
/// This is the Linux build: the program is a static-pie linked with musl's `rcrt1.o`, whose
/// `_start` applies the image's relocations (on Linux; shoal's loader has applied them already)
/// and calls `__libc_start_main`, which sets up the thread pointer and calls `main`. The symbol is
/// named `main` through `export_name`, so that the program's own `fn main(u64) -> u64` keeps its
/// name.
#[cfg(target_os = "linux")]
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        /// The C entry point, called by musl's start-up code.
        ///
        /// # Safety
        /// `argv` holds `argc` pointers to NUL-terminated strings (the kernel's initial stack).
        #[unsafe(export_name = "main")]
        unsafe extern "C" fn shoal_rt_linux_main(argc: i32, argv: *const *const u8) -> i32 {
            let main: fn(u64) -> u64 = $main;
            // SAFETY: musl passes `main` the argc and argv the kernel put on the initial stack.
            let argument = unsafe { $crate::syscall::process_argument(argc, argv) };
            $crate::syscall::exit(main(argument))
        }
    };
}
