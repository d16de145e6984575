//! Port I/O for the specific legacy devices shoal drives, one safe function per device access.
//!
//! A raw `out` to an arbitrary port can reset the machine or reprogram a DMA engine, so no
//! general-purpose port access leaves this module: each function names the one device register
//! it touches, and its safety argument is that this register has exactly the documented effect.
//! Drivers in `drivers/` build on these.

use x86_64::instructions::port::{Port, PortReadOnly, PortWriteOnly};

/// Base port of the first serial port (COM1).
pub const COM1_BASE: u16 = 0x3f8;

/// fw_cfg selector register (QEMU, `docs/specs/fw_cfg.rst`): 16-bit writes select an item.
const FW_CFG_SELECTOR: u16 = 0x510;
/// fw_cfg data register: byte reads stream the selected item.
const FW_CFG_DATA: u16 = 0x511;

/// PIT channel 2 data port (8254).
const PIT_CHANNEL2_DATA: u16 = 0x42;
/// PIT mode/command register.
const PIT_COMMAND: u16 = 0x43;
/// NMI status and control register (port 0x61): bit 0 gates PIT channel 2, bit 1 enables the
/// speaker, bit 5 reads channel 2's output.
const SYSTEM_CONTROL_B: u16 = 0x61;

/// Command and data ports of the two 8259 PICs.
const PIC1_COMMAND: u16 = 0x20;
const PIC1_DATA: u16 = 0x21;
const PIC2_COMMAND: u16 = 0xa0;
const PIC2_DATA: u16 = 0xa1;

/// Bochs' "Shutdown" port: writing the string `Shutdown` powers the emulator off.
const BOCHS_SHUTDOWN: u16 = 0x8900;

/// Selects fw_cfg item `key`.
pub fn fw_cfg_select(key: u16) {
    let mut port = PortWriteOnly::<u16>::new(FW_CFG_SELECTOR);
    // SAFETY: the fw_cfg selector only chooses which configuration item the data port streams;
    // on machines without fw_cfg the port is unclaimed and the write is ignored.
    unsafe { port.write(key) };
}

/// Reads the next byte of the selected fw_cfg item.
pub fn fw_cfg_read_byte() -> u8 {
    let mut port = PortReadOnly::<u8>::new(FW_CFG_DATA);
    // SAFETY: reading the fw_cfg data port only advances the offset within the selected item;
    // an unclaimed port reads as 0xff with no effect.
    unsafe { port.read() }
}

/// Programs PIT channel 2 for a one-shot count of `count` input ticks (1.193182 MHz) with the
/// gate closed, ready for [`pit_channel2_start`].
pub fn pit_channel2_arm(count: u16) {
    let mut control = Port::<u8>::new(SYSTEM_CONTROL_B);
    let mut command = PortWriteOnly::<u8>::new(PIT_COMMAND);
    let mut data = PortWriteOnly::<u8>::new(PIT_CHANNEL2_DATA);
    // SAFETY: channel 2 drives only the PC speaker and the status bit read back through port
    // 0x61. We close its gate and keep the speaker off (bits 0 and 1 clear), select channel 2,
    // lobyte/hibyte access, mode 0 (interrupt on terminal count, binary), and load the count.
    unsafe {
        let value = control.read() & !0b11;
        control.write(value);
        command.write(0b1011_0000);
        data.write((count & 0xff) as u8);
        data.write((count >> 8) as u8);
    }
}

/// Opens PIT channel 2's gate so that the count armed by [`pit_channel2_arm`] starts.
pub fn pit_channel2_start() {
    let mut control = Port::<u8>::new(SYSTEM_CONTROL_B);
    // SAFETY: sets only the channel 2 gate bit (bit 0); the speaker bit stays clear.
    unsafe {
        let value = control.read() & !0b10;
        control.write(value | 0b1);
    }
}

/// Returns whether PIT channel 2 has reached its terminal count.
pub fn pit_channel2_done() -> bool {
    let mut control = Port::<u8>::new(SYSTEM_CONTROL_B);
    // SAFETY: reading port 0x61 has no side effect.
    unsafe { control.read() & 0b10_0000 != 0 }
}

/// Remaps the two 8259 PICs to vectors `base..base + 16` and masks every line.
///
/// The PICs start at vectors 8..15, which collide with CPU exceptions; even masked they can
/// deliver a spurious interrupt, so they are moved out of the way first. shoal uses the local
/// APIC for interrupts.
pub fn pic_remap_and_mask(base: u8) {
    let mut command1 = PortWriteOnly::<u8>::new(PIC1_COMMAND);
    let mut data1 = PortWriteOnly::<u8>::new(PIC1_DATA);
    let mut command2 = PortWriteOnly::<u8>::new(PIC2_COMMAND);
    let mut data2 = PortWriteOnly::<u8>::new(PIC2_DATA);
    const ICW1_INIT_WITH_ICW4: u8 = 0x11;
    const ICW4_8086_MODE: u8 = 0x01;
    const SECONDARY_ON_LINE_2: u8 = 0b100;
    const SECONDARY_IDENTITY: u8 = 2;
    const MASK_ALL: u8 = 0xff;
    // SAFETY: the standard 8259 initialisation sequence (ICW1..ICW4) followed by masking all
    // lines; it only changes which vectors the PICs would use and silences them.
    unsafe {
        command1.write(ICW1_INIT_WITH_ICW4);
        command2.write(ICW1_INIT_WITH_ICW4);
        data1.write(base);
        data2.write(base + 8);
        data1.write(SECONDARY_ON_LINE_2);
        data2.write(SECONDARY_IDENTITY);
        data1.write(ICW4_8086_MODE);
        data2.write(ICW4_8086_MODE);
        data1.write(MASK_ALL);
        data2.write(MASK_ALL);
    }
}

/// Writes `value` to QEMU's isa-debug-exit device, which ends QEMU with status
/// `(value << 1) | 1`. Returns only when the device is absent.
pub fn debug_exit(value: u32) {
    let mut port = PortWriteOnly::<u32>::new(shoal_protocol::DEBUG_EXIT_PORT);
    // SAFETY: on QEMU with `-device isa-debug-exit,iobase=0xf4,iosize=0x04` the write ends the
    // emulator; elsewhere port 0xf4 is unclaimed and the write is ignored.
    unsafe { port.write(value) };
}

/// Asks Bochs to power off by writing `Shutdown` to its port 0x8900; ignored elsewhere.
pub fn bochs_shutdown() {
    let mut port = PortWriteOnly::<u8>::new(BOCHS_SHUTDOWN);
    for &byte in b"Shutdown" {
        // SAFETY: port 0x8900 is Bochs' shutdown port; elsewhere it is unclaimed.
        unsafe { port.write(byte) };
    }
}

/// COM1's line status register.
const COM1_LINE_STATUS: u16 = COM1_BASE + 5;
/// Line status bit 6: the transmitter holding register and shift register are both empty.
const LINE_STATUS_TRANSMITTER_EMPTY: u8 = 1 << 6;

/// Returns whether COM1 has sent every byte written to it (true when no UART answers: an
/// unclaimed port reads 0xff).
pub fn com1_transmitter_empty() -> bool {
    let mut port = PortReadOnly::<u8>::new(COM1_LINE_STATUS);
    // SAFETY: reading the line status register has no side effect on transmission (it clears
    // only the error bits, which the console never uses).
    unsafe { port.read() & LINE_STATUS_TRANSMITTER_EMPTY != 0 }
}

/// Opens and initialises COM1 (115200 baud, 8N1). Returns `None` when no UART answers there.
pub fn com1() -> Option<uart_16550::Uart16550<uart_16550::backend::PioBackend>> {
    // SAFETY: COM1's eight registers at 0x3f8..0x400 belong to the UART alone. The serial
    // driver opens it once at boot, and a second time only on a fatal path whose interrupted
    // holder of the first handle never runs again.
    let mut uart = unsafe { uart_16550::Uart16550::new_port(COM1_BASE) }.ok()?;
    uart.init(uart_16550::Config::default()).ok()?;
    Some(uart)
}
