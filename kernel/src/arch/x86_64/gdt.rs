//! The global descriptor table and the task-state segment.
//!
//! Kernel code and kernel data come first, in the order SYSCALL expects (Intel SDM vol. 2B,
//! SYSCALL/SYSRET); the user segments follow them when user mode arrives. The TSS holds the interrupt-stack-table (IST) stacks: double fault, NMI and machine check each
//! run on their own stack, so a corrupt or overflowed kernel stack still produces a report.

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

static TSS: Once<TaskStateSegment> = Once::new();
static GDT: Once<(GlobalDescriptorTable, Selectors)> = Once::new();

/// The selectors of the loaded GDT.
#[derive(Clone, Copy, Debug)]
pub struct Selectors {
    /// Kernel code segment (ring 0).
    pub kernel_code: SegmentSelector,
    /// Kernel data/stack segment (ring 0).
    pub kernel_data: SegmentSelector,
    /// The task-state segment.
    pub tss: SegmentSelector,
}

/// Builds and loads the GDT and TSS, and reloads every segment register.
pub fn init() {
    let tss = TSS.call_once(|| {
        let mut tss = TaskStateSegment::new();
        let stacks = IST_STACKS.lock();
        for (index, stack) in stacks.iter().enumerate() {
            let bottom = VirtAddr::from_ptr(stack.0.as_ptr());
            tss.interrupt_stack_table[index] = bottom + IST_STACK_BYTES as u64;
        }
        tss
    });
    let (gdt, selectors) = GDT.call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let kernel_code = gdt.append(Descriptor::kernel_code_segment());
        let kernel_data = gdt.append(Descriptor::kernel_data_segment());
        let tss = gdt.append(Descriptor::tss_segment(tss));
        (gdt, Selectors { kernel_code, kernel_data, tss })
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
