//! The interrupt descriptor table: a clear report for every CPU exception, plus the timer.
//!
//! Every architectural exception (Intel SDM vol. 3A §6.15) has a handler that prints the
//! vector, its name, the error code (decoded for page faults), RIP, CS, RSP, RFLAGS, CR2 for
//! page faults, and whether the CPU was in kernel or user mode. A breakpoint (#BP) is reported
//! and execution continues. Any other exception in user mode goes to the handler the process
//! layer registered (it kills only that process); in the kernel it is fatal: the report is
//! followed by the failure status line and the machine stops (`shutdown::failure`).
//! Double fault, NMI and machine check run on their own IST stacks (see `gdt.rs`).

use core::fmt;

use spin::Once;
use x86_64::registers::control::Cr2;
use x86_64::structures::idt::{InterruptDescriptorTable, InterruptStackFrame, PageFaultErrorCode};

use super::gdt;

/// Vector of the local APIC timer interrupt.
pub const TIMER_VECTOR: u8 = 0x30;
/// Vector the local APIC uses for spurious interrupts (its low four bits must be 1 on old CPUs).
pub const SPURIOUS_VECTOR: u8 = 0xff;
/// First vector of the (masked) 8259 PICs, moved out of the exception range.
pub const PIC_VECTOR_BASE: u8 = 0x20;

static IDT: Once<InterruptDescriptorTable> = Once::new();
/// Called for an exception that hit user mode; ends the offending process, never returns.
static USER_FAULT_HANDLER: Once<fn(&Exception) -> !> = Once::new();
/// Serves a user-mode page fault on demand memory: given the faulting address and the error
/// code, returns whether the page is now mapped (the instruction is retried).
static DEMAND_FAULT_HANDLER: Once<fn(u64, u64) -> bool> = Once::new();
/// Called on every timer interrupt, after the end-of-interrupt, with the interrupted mode.
static TIMER_HANDLER: Once<fn(Mode)> = Once::new();

/// Registers what happens to an exception in user mode (the process layer kills the process).
pub fn set_user_fault_handler(handler: fn(&Exception) -> !) {
    USER_FAULT_HANDLER.call_once(|| handler);
}

/// Installs the handler that maps demand memory on a user-mode page fault (see
/// [`DEMAND_FAULT_HANDLER`]); a fault it does not serve goes to the user fault handler.
pub fn set_demand_fault_handler(handler: fn(u64, u64) -> bool) {
    DEMAND_FAULT_HANDLER.call_once(|| handler);
}

/// Registers what runs on each timer interrupt (the scheduler's preemption check).
pub fn set_timer_handler(handler: fn(Mode)) {
    TIMER_HANDLER.call_once(|| handler);
}

/// Where the CPU was when the exception hit, from the privilege level of the saved CS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// CPL 0.
    Kernel,
    /// CPL 3.
    User,
}

impl Mode {
    /// Returns the mode the interrupted code ran in.
    pub fn of(frame: &InterruptStackFrame) -> Mode {
        if frame.code_segment.rpl() as u8 == 0 { Mode::Kernel } else { Mode::User }
    }
}

/// The first thing every handler does: from user mode, clean the kernel's flags (AC, DF, NT);
/// returns the interrupted mode.
#[inline(always)]
fn enter(frame: &InterruptStackFrame) -> Mode {
    let mode = Mode::of(frame);
    if mode == Mode::User {
        super::interrupts::clean_flags_after_user_entry(frame.cpu_flags.bits());
    }
    mode
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Kernel => "kernel mode",
            Mode::User => "user mode",
        })
    }
}

/// An exception as the handlers saw it; printed by [`Exception::report`].
#[derive(Clone, Copy, Debug)]
pub struct Exception {
    /// Interrupt vector (0..32).
    pub vector: u8,
    /// Mnemonic, e.g. `#PF`.
    pub mnemonic: &'static str,
    /// Human-readable name, e.g. `page fault`.
    pub name: &'static str,
    /// Error code, when the exception pushes one.
    pub error_code: Option<u64>,
    /// Faulting linear address (CR2), for page faults.
    pub fault_address: Option<u64>,
    /// Saved instruction pointer.
    pub rip: u64,
    /// Saved code segment selector.
    pub cs: u64,
    /// Saved stack pointer.
    pub rsp: u64,
    /// Saved flags.
    pub rflags: u64,
    /// Mode the CPU was in.
    pub mode: Mode,
}

impl Exception {
    fn new(
        vector: u8,
        mnemonic: &'static str,
        name: &'static str,
        frame: &InterruptStackFrame,
        error_code: Option<u64>,
    ) -> Exception {
        Exception {
            vector,
            mnemonic,
            name,
            error_code,
            fault_address: None,
            rip: frame.instruction_pointer.as_u64(),
            cs: frame.code_segment.0 as u64,
            rsp: frame.stack_pointer.as_u64(),
            rflags: frame.cpu_flags.bits(),
            mode: Mode::of(frame),
        }
    }
}

impl Exception {
    /// Returns the page-fault address and cause, or the error code, for a one-line report.
    pub fn one_line_detail(&self) -> OneLineDetail {
        OneLineDetail(*self)
    }
}

/// The tail of a one-line exception report: `, address 0x... (cause)` or `, error code 0x...`.
pub struct OneLineDetail(Exception);

impl fmt::Display for OneLineDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(address), Some(code)) = (self.0.fault_address, self.0.error_code) {
            write!(f, ", address {address:#x} ({})", PageFaultCause(code))
        } else if let Some(code) = self.0.error_code {
            write!(f, ", error code {code:#x}")
        } else {
            Ok(())
        }
    }
}

impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "EXCEPTION: {} {} (vector {}) in {}",
            self.mnemonic, self.name, self.vector, self.mode
        )?;
        if let Some(code) = self.error_code {
            write!(f, "  error code: {code:#x}")?;
            if self.vector == 14 {
                write!(f, " ({})", PageFaultCause(code))?;
            }
            writeln!(f)?;
        }
        if let Some(address) = self.fault_address {
            writeln!(f, "  fault address (CR2): {address:#018x}")?;
        }
        write!(
            f,
            "  RIP: {:#018x}  CS: {:#x}  RSP: {:#018x}  RFLAGS: {:#x}",
            self.rip, self.cs, self.rsp, self.rflags
        )
    }
}

/// Decodes a page-fault error code (Intel SDM vol. 3A §4.7).
struct PageFaultCause(u64);

impl fmt::Display for PageFaultCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = PageFaultErrorCode::from_bits_truncate(self.0);
        f.write_str(if code.contains(PageFaultErrorCode::PROTECTION_VIOLATION) {
            "protection violation"
        } else {
            "page not present"
        })?;
        f.write_str(if code.contains(PageFaultErrorCode::CAUSED_BY_WRITE) { ", write" } else { ", read" })?;
        if code.contains(PageFaultErrorCode::INSTRUCTION_FETCH) {
            f.write_str(", instruction fetch")?;
        }
        f.write_str(if code.contains(PageFaultErrorCode::USER_MODE) { ", user" } else { ", supervisor" })?;
        if code.contains(PageFaultErrorCode::MALFORMED_TABLE) {
            f.write_str(", reserved bit set")?;
        }
        if code.contains(PageFaultErrorCode::PROTECTION_KEY) {
            f.write_str(", protection key")?;
        }
        if code.contains(PageFaultErrorCode::SHADOW_STACK) {
            f.write_str(", shadow stack")?;
        }
        Ok(())
    }
}

/// Handles an exception nothing can continue from: in user mode the offending process ends (the
/// registered handler reports it); in the kernel the report is printed and the machine stops.
fn fatal(exception: Exception) -> ! {
    if exception.mode == Mode::User
        && let Some(handler) = USER_FAULT_HANDLER.get()
    {
        handler(&exception);
    }
    crate::drivers::serial::write_fatal(format_args!("{exception}\n"));
    crate::shutdown::failure("CPU exception in the kernel")
}

/// Defines an exception handler without an error code that reports and stops.
macro_rules! fatal_handler {
    ($function:ident, $vector:expr, $mnemonic:expr, $name:expr) => {
        extern "x86-interrupt" fn $function(frame: InterruptStackFrame) {
            enter(&frame);
            fatal(Exception::new($vector, $mnemonic, $name, &frame, None));
        }
    };
}

/// Defines an exception handler with an error code that reports and stops.
macro_rules! fatal_handler_with_code {
    ($function:ident, $vector:expr, $mnemonic:expr, $name:expr) => {
        extern "x86-interrupt" fn $function(frame: InterruptStackFrame, error_code: u64) {
            enter(&frame);
            fatal(Exception::new($vector, $mnemonic, $name, &frame, Some(error_code)));
        }
    };
}

fatal_handler!(divide_error, 0, "#DE", "divide error");
fatal_handler!(debug, 1, "#DB", "debug exception");
fatal_handler!(non_maskable_interrupt, 2, "NMI", "non-maskable interrupt");
fatal_handler!(overflow, 4, "#OF", "overflow");
fatal_handler!(bound_range, 5, "#BR", "bound range exceeded");
fatal_handler!(invalid_opcode, 6, "#UD", "invalid opcode");
fatal_handler!(device_not_available, 7, "#NM", "device not available");
fatal_handler_with_code!(invalid_tss, 10, "#TS", "invalid TSS");
fatal_handler_with_code!(segment_not_present, 11, "#NP", "segment not present");
fatal_handler_with_code!(stack_segment, 12, "#SS", "stack-segment fault");
fatal_handler_with_code!(general_protection, 13, "#GP", "general protection fault");
fatal_handler!(x87_floating_point, 16, "#MF", "x87 floating-point error");
fatal_handler_with_code!(alignment_check, 17, "#AC", "alignment check");
fatal_handler!(simd_floating_point, 19, "#XM", "SIMD floating-point exception");
fatal_handler!(virtualization, 20, "#VE", "virtualization exception");
fatal_handler_with_code!(control_protection, 21, "#CP", "control-protection exception");
fatal_handler!(hypervisor_injection, 28, "#HV", "hypervisor injection exception");
fatal_handler_with_code!(vmm_communication, 29, "#VC", "VMM communication exception");
fatal_handler_with_code!(security, 30, "#SX", "security exception");

extern "x86-interrupt" fn breakpoint(frame: InterruptStackFrame) {
    enter(&frame);
    let exception = Exception::new(3, "#BP", "breakpoint", &frame, None);
    crate::println!("{exception}\n  (continuing after the breakpoint)");
}

extern "x86-interrupt" fn double_fault(frame: InterruptStackFrame, error_code: u64) -> ! {
    enter(&frame);
    fatal(Exception::new(8, "#DF", "double fault", &frame, Some(error_code)))
}

extern "x86-interrupt" fn machine_check(frame: InterruptStackFrame) -> ! {
    enter(&frame);
    fatal(Exception::new(18, "#MC", "machine check", &frame, None))
}

extern "x86-interrupt" fn page_fault(frame: InterruptStackFrame, error_code: PageFaultErrorCode) {
    enter(&frame);
    let mut exception = Exception::new(14, "#PF", "page fault", &frame, Some(error_code.bits()));
    exception.fault_address = Some(Cr2::read_raw());
    // A not-present fault from user mode may be a first touch of demand memory.
    if exception.mode == Mode::User
        && !error_code.contains(PageFaultErrorCode::PROTECTION_VIOLATION)
        && let Some(handler) = DEMAND_FAULT_HANDLER.get()
        && handler(Cr2::read_raw(), error_code.bits())
    {
        return;
    }
    fatal(exception);
}

extern "x86-interrupt" fn timer(frame: InterruptStackFrame) {
    let mode = enter(&frame);
    crate::time::on_timer_interrupt();
    // Acknowledge before the handler may switch to another process: the APIC delivers no further
    // timer interrupt while this one is in service.
    super::apic::end_of_interrupt();
    if let Some(handler) = TIMER_HANDLER.get() {
        handler(mode);
    }
}

extern "x86-interrupt" fn spurious(frame: InterruptStackFrame) {
    enter(&frame);
    // A spurious interrupt needs no end-of-interrupt (Intel SDM vol. 3A §11.9).
}

/// Builds and loads the IDT. Requires [`gdt::init`] (the IST stacks).
pub fn init() {
    let idt = IDT.call_once(|| {
        let mut idt = InterruptDescriptorTable::new();
        idt.divide_error.set_handler_fn(divide_error);
        idt.debug.set_handler_fn(debug);
        // SAFETY: (all three `set_stack_index` calls) the indices name IST entries that
        // `gdt::init` fills with distinct static stacks, used by no other vector.
        unsafe {
            idt.non_maskable_interrupt
                .set_handler_fn(non_maskable_interrupt)
                .set_stack_index(gdt::NMI_IST_INDEX);
            idt.double_fault.set_handler_fn(double_fault).set_stack_index(gdt::DOUBLE_FAULT_IST_INDEX);
            idt.machine_check
                .set_handler_fn(machine_check)
                .set_stack_index(gdt::MACHINE_CHECK_IST_INDEX);
        }
        idt.breakpoint.set_handler_fn(breakpoint);
        idt.overflow.set_handler_fn(overflow);
        idt.bound_range_exceeded.set_handler_fn(bound_range);
        idt.invalid_opcode.set_handler_fn(invalid_opcode);
        idt.device_not_available.set_handler_fn(device_not_available);
        idt.invalid_tss.set_handler_fn(invalid_tss);
        idt.segment_not_present.set_handler_fn(segment_not_present);
        idt.stack_segment_fault.set_handler_fn(stack_segment);
        idt.general_protection_fault.set_handler_fn(general_protection);
        idt.page_fault.set_handler_fn(page_fault);
        idt.x87_floating_point.set_handler_fn(x87_floating_point);
        idt.alignment_check.set_handler_fn(alignment_check);
        idt.simd_floating_point.set_handler_fn(simd_floating_point);
        idt.virtualization.set_handler_fn(virtualization);
        idt.cp_protection_exception.set_handler_fn(control_protection);
        idt.hv_injection_exception.set_handler_fn(hypervisor_injection);
        idt.vmm_communication_exception.set_handler_fn(vmm_communication);
        idt.security_exception.set_handler_fn(security);
        idt[TIMER_VECTOR].set_handler_fn(timer);
        idt[SPURIOUS_VECTOR].set_handler_fn(spurious);
        idt
    });
    idt.load();
}
