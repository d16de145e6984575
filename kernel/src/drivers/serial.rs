//! The serial console on COM1: every line the kernel prints goes here.
//!
//! `print!`/`println!` write through one lock; interrupts are off while it is held, so an
//! interrupt handler that prints cannot deadlock against the code it interrupted. The fatal
//! paths (exception reports, panics) use [`write_fatal`] because they may have
//! interrupted a print on this very CPU. Without a UART (or before [`init`]) output is dropped.
//!
//! Neighbours: `arch/x86_64/port.rs` opens the UART; `log.rs` adds levels on top.

#![deny(unsafe_code)]

use core::fmt::{self, Write};

use spin::Mutex;
use uart_16550::Uart16550;
use uart_16550::backend::PioBackend;

use crate::arch::x86_64::{interrupts, port};

/// The console; `None` until [`init`] ran or when COM1 did not answer.
static CONSOLE: Mutex<Option<Uart16550<PioBackend>>> = Mutex::new(None);

/// Opens COM1. Returns whether a UART answered.
pub fn init() -> bool {
    let uart = port::com1();
    let present = uart.is_some();
    *CONSOLE.lock() = uart;
    present
}

/// Adapter that turns `\n` into the `\r\n` a terminal expects.
struct Console<'a>(&'a mut Uart16550<PioBackend>);

impl Write for Console<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for line in text.split_inclusive('\n') {
            match line.strip_suffix('\n') {
                Some(body) => {
                    self.0.send_bytes_exact(body.as_bytes());
                    self.0.send_bytes_exact(b"\r\n");
                }
                None => self.0.send_bytes_exact(line.as_bytes()),
            }
        }
        Ok(())
    }
}

/// Writes formatted text to the console. Used by the `print!` macros.
pub fn write_fmt(arguments: fmt::Arguments<'_>) {
    interrupts::without_interrupts(|| {
        if let Some(uart) = CONSOLE.lock().as_mut() {
            // The console adapter never fails; a formatting error of a Display impl is ignored
            // rather than allowed to take the kernel down.
            let _ = Console(uart).write_fmt(arguments);
        }
    });
}

/// Writes formatted text for a fatal report (exception in the kernel, panic).
///
/// The console lock may be held by the very code that faulted, on this CPU, and it would never
/// be released. So when the lock is taken this opens COM1 a second time and writes through that
/// handle: the machine stops right after, so the two handles never interleave for long.
pub fn write_fatal(arguments: fmt::Arguments<'_>) {
    interrupts::without_interrupts(|| {
        if let Some(mut guard) = CONSOLE.try_lock() {
            if let Some(uart) = guard.as_mut() {
                let _ = Console(uart).write_fmt(arguments);
            }
        } else if let Some(mut uart) = port::com1() {
            let _ = Console(&mut uart).write_fmt(arguments);
        }
    });
}

/// Prints to the serial console.
#[macro_export]
macro_rules! print {
    ($($argument:tt)*) => ($crate::drivers::serial::write_fmt(format_args!($($argument)*)));
}

/// Prints to the serial console, with a newline.
#[macro_export]
macro_rules! println {
    () => ($crate::print!("\n"));
    ($($argument:tt)*) => ($crate::drivers::serial::write_fmt(format_args!("{}\n", format_args!($($argument)*))));
}
