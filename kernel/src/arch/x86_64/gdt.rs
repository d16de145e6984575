//! The global descriptor table and the task-state segment.
//!
//! Segment order follows what SYSCALL/SYSRET need (Intel SDM vol. 2B, SYSCALL and SYSRET): kernel
//! code, kernel data, then user data and user code, so that IA32_STAR's two selector bases line
//! up (`syscall::init`). The TSS holds RSP0, the stack the CPU switches to when an interrupt or
//! exception arrives in user mode (the running process's kernel stack, set on every process
//! switch), and the interrupt-stack-table (IST) stacks: double fault, NMI and machine check each
//! run on their own stack, so a corrupt or overflowed kernel stack still produces a report.

use core::cell::UnsafeCell;

use spin::Once;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;

/// IST index (0-based, as the IDT entry takes it) of the double-fault stack.
pub const DOUBLE_FAULT_IST_INDEX: u16 = 0;
/// IST index of the non-maskable-interrupt stack.
pub const NMI_IST_INDEX: u16 = 1;
/// IST index of the machine-check stack.
pub const MACHINE_CHECK_IST_INDEX: u16 = 2;
/// Size of each IST stack.
const IST_STACK_BYTES: usize = 16 * 1024;
/// Number of IST stacks in use.
const IST_STACK_COUNT: usize = 3;

/// An IST stack, 16-byte aligned as the stack pointer on interrupt entry must be.
#[repr(C, align(16))]
struct IstStack([u8; IST_STACK_BYTES]);

/// Backing memory of the IST stacks, in the kernel image's data segment.
static IST_STACKS: spin::Mutex<[IstStack; IST_STACK_COUNT]> =
    spin::Mutex::new([const { IstStack([0; IST_STACK_BYTES]) }; IST_STACK_COUNT]);

/// The TSS. The CPU reads it on privilege changes; the kernel writes RSP0 on process switches.
struct TssCell(UnsafeCell<TaskStateSegment>);

// SAFETY: shoal runs on one CPU; RSP0 is written only with interrupts disabled (process switch),
// so no interrupt can observe a half-written value, and no other thread exists.
unsafe impl Sync for TssCell {}

static TSS: TssCell = TssCell(UnsafeCell::new(TaskStateSegment::new()));
static GDT: Once<(GlobalDescriptorTable, Selectors)> = Once::new();

/// The selectors of the loaded GDT.
#[derive(Clone, Copy, Debug)]
pub struct Selectors {
    /// Kernel code segment (ring 0).
    pub kernel_code: SegmentSelector,
    /// Kernel data/stack segment (ring 0).
    pub kernel_data: SegmentSelector,
    /// User data/stack segment (ring 3).
    pub user_data: SegmentSelector,
    /// User code segment (ring 3, 64-bit).
    pub user_code: SegmentSelector,
    /// The task-state segment.
    pub tss: SegmentSelector,
}

/// Builds and loads the GDT and TSS, and reloads every segment register.
pub fn init() {
    {
        let stacks = IST_STACKS.lock();
        // SAFETY: boot runs single-threaded with interrupts off and the TSS is not loaded yet,
        // so this is the only access to it.
        let tss = unsafe { &mut *TSS.0.get() };
        for (index, stack) in stacks.iter().enumerate() {
            let bottom = VirtAddr::from_ptr(stack.0.as_ptr());
            tss.interrupt_stack_table[index] = bottom + IST_STACK_BYTES as u64;
        }
    }
    let (gdt, selectors) = GDT.call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let kernel_code = gdt.append(Descriptor::kernel_code_segment());
        let kernel_data = gdt.append(Descriptor::kernel_data_segment());
        let user_data = gdt.append(Descriptor::user_data_segment());
        let user_code = gdt.append(Descriptor::user_code_segment());
        // SAFETY: the TSS lives in a static for the kernel's whole life.
        let tss = gdt.append(Descriptor::tss_segment(unsafe { &*TSS.0.get() }));
        (gdt, Selectors { kernel_code, kernel_data, user_data, user_code, tss })
    });
    gdt.load();
    // SAFETY: the selectors come from the GDT just loaded, which lives in a static for the
    // rest of the kernel's life; the code and data descriptors are the flat 64-bit kernel ones,
    // and the TSS descriptor points at a TSS in a static whose IST stacks are static too.
    unsafe {
        CS::set_reg(selectors.kernel_code);
        SS::set_reg(selectors.kernel_data);
        DS::set_reg(selectors.kernel_data);
        ES::set_reg(selectors.kernel_data);
        load_tss(selectors.tss);
    }
}

/// Returns the selectors of the loaded GDT.
///
/// # Panics
/// Panics if [`init`] has not run (a boot-order bug).
pub fn selectors() -> Selectors {
    GDT.get().expect("gdt::init runs first").1
}

/// Sets RSP0, the stack the CPU loads when an interrupt or exception arrives in user mode.
///
/// Called with interrupts disabled, on every switch to a process.
pub fn set_kernel_stack(top: VirtAddr) {
    // SAFETY: one CPU, interrupts disabled (the scheduler's invariant), so nothing reads the TSS
    // while this aligned 8-byte field is written; the CPU reads it only on the next privilege
    // change.
    unsafe { (*TSS.0.get()).privilege_stack_table[0] = top };
}
