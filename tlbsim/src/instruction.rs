//! Recognises, from its bytes, the few x86-64 instructions the TLB model must see.
//!
//! The QEMU plugin hands every instruction it translates to [`decode`]. Almost all of them are
//! [`None`]; the ones that change what the TLB holds, or talk to the plugin, come back as a
//! [`SpecialInstruction`], and the plugin registers a callback before each that reads the
//! registers named here:
//!
//! | bytes | instruction | what the callback needs |
//! |---|---|---|
//! | `0F 22 /r`, reg = 0, 3, 4 | MOV to CR0, CR3, CR4 (Intel SDM vol. 2, MOV—Move to/from Control Registers) | the source register, ModRM.rm (+ REX.B) |
//! | `0F 01 /7`, mod != 11 | INVLPG m | the memory operand's linear address |
//! | `66 0F 38 82 /r`, mod != 11 | INVPCID r64, m128 | the type register (ModRM.reg + REX.R) and the descriptor's address |
//! | `0F 30` | WRMSR | ECX, EDX:EAX |
//! | `0F 1F 80 disp32` in the marker range | a `tlbsim_protocol` marker | RAX |
//!
//! The decoder reads one whole instruction (QEMU gives each instruction's bytes separately):
//! legacy prefixes, then an optional REX prefix, then the opcode. It assumes 64-bit mode for
//! REX and for RIP-relative addressing; MOV to CRn decodes the same in every mode, and the
//! plugin ignores the rest while paging is off. A memory operand is kept as a
//! [`MemoryOperand`] (base, index, scale, displacement, segment, address size), whose
//! [`MemoryOperand::linear_address`] the plugin evaluates with register values read at
//! execution time.

use tlbsim_protocol::Command;

/// A general-purpose register, numbered as in ModRM/SIB fields extended by REX (Intel SDM
/// vol. 2 §2.2.1.2): 0 RAX, 1 RCX, 2 RDX, 3 RBX, 4 RSP, 5 RBP, 6 RSI, 7 RDI, 8–15 R8–R15.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GeneralRegister(u8);

impl GeneralRegister {
    /// RAX, the register that carries a marker's argument.
    pub const RAX: GeneralRegister = GeneralRegister(0);
    /// RCX, WRMSR's MSR index.
    pub const RCX: GeneralRegister = GeneralRegister(1);
    /// RDX, WRMSR's high half.
    pub const RDX: GeneralRegister = GeneralRegister(2);

    /// Number of general-purpose registers in 64-bit mode.
    pub const COUNT: usize = 16;

    /// The registers' names as QEMU's GDB register list spells them, in encoding order.
    pub const NAMES: [&'static str; Self::COUNT] = [
        "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12",
        "r13", "r14", "r15",
    ];

    /// Returns the register with encoding `number` (0 to 15), or `None`.
    pub const fn new(number: u8) -> Option<GeneralRegister> {
        if (number as usize) < Self::COUNT {
            Some(GeneralRegister(number))
        } else {
            None
        }
    }

    /// Returns the encoding number, 0 to 15, usable as an index into [`Self::NAMES`].
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// Returns the register's name, e.g. `r12`.
    pub const fn name(self) -> &'static str {
        Self::NAMES[self.0 as usize]
    }
}

/// A control register the model follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ControlRegister {
    /// CR0: the plugin follows PG (paging on or off).
    Cr0,
    /// CR3: the root of the paging structures and the PCID.
    Cr3,
    /// CR4: PAE, PGE, PCIDE, SMEP.
    Cr4,
}

/// A segment whose base can be non-zero in 64-bit mode (Intel SDM vol. 1 §3.4.2.1): the
/// others (CS, DS, ES, SS) have base 0 there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BasedSegment {
    /// FS, prefix `64`.
    Fs,
    /// GS, prefix `65`.
    Gs,
}

/// A decoded ModRM/SIB memory operand (Intel SDM vol. 2 §2.1.5, §2.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemoryOperand {
    /// The base register, if any.
    pub base: Option<GeneralRegister>,
    /// The index register and its scale factor (1, 2, 4 or 8), if any.
    pub index: Option<(GeneralRegister, u8)>,
    /// The sign-extended displacement.
    pub displacement: i64,
    /// For RIP-relative addressing: the address of the next instruction at translation time
    /// (the displacement is relative to it). `None` otherwise.
    pub rip_relative_to: Option<u64>,
    /// The FS or GS segment override, if any.
    pub segment: Option<BasedSegment>,
    /// Whether the address-size prefix `67` makes the effective address 32 bits wide.
    pub address_size_32: bool,
}

impl MemoryOperand {
    /// Returns the operand's linear address, given the general-purpose registers
    /// (`register(r)` returns r's value) and the FS/GS bases: segment base + base +
    /// index × scale + displacement, wrapping, truncated to 32 bits under the `67` prefix
    /// (before the segment base is added).
    pub fn linear_address(
        &self,
        mut register: impl FnMut(GeneralRegister) -> u64,
        mut segment_base: impl FnMut(BasedSegment) -> u64,
    ) -> u64 {
        let mut effective = self.displacement as u64;
        if let Some(next_instruction) = self.rip_relative_to {
            effective = effective.wrapping_add(next_instruction);
        }
        if let Some(base) = self.base {
            effective = effective.wrapping_add(register(base));
        }
        if let Some((index, scale)) = self.index {
            effective = effective.wrapping_add(register(index).wrapping_mul(u64::from(scale)));
        }
        if self.address_size_32 {
            effective &= u64::from(u32::MAX);
        }
        match self.segment {
            Some(segment) => effective.wrapping_add(segment_base(segment)),
            None => effective,
        }
    }

    /// Returns the general-purpose registers the address depends on.
    pub fn registers(&self) -> impl Iterator<Item = GeneralRegister> {
        self.base
            .into_iter()
            .chain(self.index.map(|(index, _)| index))
    }
}

/// An instruction the plugin must intercept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpecialInstruction {
    /// MOV to CR0, CR3 or CR4 from `source`.
    MovToControlRegister {
        /// The control register written.
        register: ControlRegister,
        /// The general-purpose register holding the new value.
        source: GeneralRegister,
    },
    /// INVLPG of the page containing `operand`'s address.
    Invlpg {
        /// The memory operand; its linear address is the page to invalidate.
        operand: MemoryOperand,
    },
    /// INVPCID with the type in `type_register` and the 128-bit descriptor at `descriptor`.
    Invpcid {
        /// The register holding the INVPCID type.
        type_register: GeneralRegister,
        /// The memory operand holding the descriptor.
        descriptor: MemoryOperand,
    },
    /// WRMSR: MSR ECX := EDX:EAX.
    Wrmsr,
    /// A `tlbsim_protocol` marker; its argument is in RAX.
    Marker(Command),
}

/// Operand-size prefix, also INVPCID's mandatory prefix.
const PREFIX_OPERAND_SIZE: u8 = 0x66;
/// Address-size prefix.
const PREFIX_ADDRESS_SIZE: u8 = 0x67;
/// FS segment-override prefix.
const PREFIX_FS: u8 = 0x64;
/// GS segment-override prefix.
const PREFIX_GS: u8 = 0x65;
/// The other legacy prefixes: LOCK, REPNE, REP, and the CS, SS, DS, ES overrides.
const OTHER_LEGACY_PREFIXES: [u8; 7] = [0xf0, 0xf2, 0xf3, 0x2e, 0x36, 0x3e, 0x26];
/// The two-byte opcode escape.
const ESCAPE: u8 = 0x0f;

/// The REX prefix's fields (Intel SDM vol. 2 §2.2.1.2).
#[derive(Clone, Copy, Debug, Default)]
struct Rex {
    /// REX.R: extends ModRM.reg.
    r: bool,
    /// REX.X: extends SIB.index.
    x: bool,
    /// REX.B: extends ModRM.rm or SIB.base.
    b: bool,
}

/// The prefixes in front of the opcode.
#[derive(Clone, Copy, Debug, Default)]
struct Prefixes {
    operand_size: bool,
    address_size: bool,
    segment: Option<BasedSegment>,
    rex: Rex,
}

/// Decodes `bytes`, the bytes of one instruction starting at linear address `address`, into
/// the special instruction it is, or `None` for any other instruction.
pub fn decode(bytes: &[u8], address: u64) -> Option<SpecialInstruction> {
    if let Some(command) = tlbsim_protocol::decode(bytes) {
        return Some(SpecialInstruction::Marker(command));
    }
    let (prefixes, rest) = split_prefixes(bytes);
    let (&escape, rest) = rest.split_first()?;
    if escape != ESCAPE {
        return None;
    }
    let (&opcode, rest) = rest.split_first()?;
    match opcode {
        0x22 => {
            let (&modrm, _) = rest.split_first()?;
            let register = match modrm_reg(modrm, prefixes.rex.r) {
                0 => ControlRegister::Cr0,
                3 => ControlRegister::Cr3,
                4 => ControlRegister::Cr4,
                _ => return None,
            };
            // The r/m field always names a general register here, whatever mod says
            // (Intel SDM vol. 2, MOV—Move to/from Control Registers).
            let source = GeneralRegister::new(extend(modrm & 0b111, prefixes.rex.b))?;
            Some(SpecialInstruction::MovToControlRegister { register, source })
        }
        0x01 => {
            let (&modrm, _) = rest.split_first()?;
            if modrm >> 6 == 0b11 || (modrm >> 3) & 0b111 != 7 {
                return None;
            }
            let operand = memory_operand(rest, prefixes, address, bytes.len())?;
            Some(SpecialInstruction::Invlpg { operand })
        }
        0x30 => Some(SpecialInstruction::Wrmsr),
        0x38 if prefixes.operand_size => {
            let (&third, rest) = rest.split_first()?;
            if third != 0x82 {
                return None;
            }
            let (&modrm, _) = rest.split_first()?;
            if modrm >> 6 == 0b11 {
                return None;
            }
            let type_register = GeneralRegister::new(modrm_reg(modrm, prefixes.rex.r))?;
            let descriptor = memory_operand(rest, prefixes, address, bytes.len())?;
            Some(SpecialInstruction::Invpcid {
                type_register,
                descriptor,
            })
        }
        _ => None,
    }
}

/// Splits the legacy prefixes and a REX prefix off the front of `bytes`.
fn split_prefixes(mut bytes: &[u8]) -> (Prefixes, &[u8]) {
    let mut prefixes = Prefixes::default();
    while let Some((&byte, rest)) = bytes.split_first() {
        match byte {
            PREFIX_OPERAND_SIZE => prefixes.operand_size = true,
            PREFIX_ADDRESS_SIZE => prefixes.address_size = true,
            PREFIX_FS => prefixes.segment = Some(BasedSegment::Fs),
            PREFIX_GS => prefixes.segment = Some(BasedSegment::Gs),
            // A CS/SS/DS/ES override cancels an earlier FS/GS one (the last override wins).
            0x2e | 0x36 | 0x3e | 0x26 => prefixes.segment = None,
            byte if OTHER_LEGACY_PREFIXES.contains(&byte) => {}
            _ => break,
        }
        bytes = rest;
    }
    // A REX prefix counts only directly before the opcode (Intel SDM vol. 2 §2.2.1).
    if let Some((&byte, rest)) = bytes.split_first()
        && byte & 0xf0 == 0x40
    {
        prefixes.rex = Rex {
            r: byte & 0b100 != 0,
            x: byte & 0b010 != 0,
            b: byte & 0b001 != 0,
        };
        bytes = rest;
    }
    (prefixes, bytes)
}

/// Returns ModRM.reg extended by REX.R.
fn modrm_reg(modrm: u8, rex_r: bool) -> u8 {
    extend((modrm >> 3) & 0b111, rex_r)
}

/// Returns the 3-bit register field `field` extended by the REX bit `extension` to 4 bits.
fn extend(field: u8, extension: bool) -> u8 {
    field | (u8::from(extension) << 3)
}

/// Decodes the memory operand of `bytes` (starting at its ModRM byte, mod != 11) with
/// 64-bit addressing. `address` and `length_bytes` locate the whole instruction, for
/// RIP-relative operands.
fn memory_operand(
    bytes: &[u8],
    prefixes: Prefixes,
    address: u64,
    length_bytes: usize,
) -> Option<MemoryOperand> {
    let (&modrm, rest) = bytes.split_first()?;
    let mode = modrm >> 6;
    let rm = modrm & 0b111;
    let mut operand = MemoryOperand {
        base: None,
        index: None,
        displacement: 0,
        rip_relative_to: None,
        segment: prefixes.segment,
        address_size_32: prefixes.address_size,
    };
    let mut rest = rest;
    let mut displacement_bytes = match mode {
        0b01 => 1,
        0b10 => 4,
        _ => 0,
    };
    if rm == 0b100 {
        let (&sib, after) = rest.split_first()?;
        rest = after;
        let scale = 1u8 << (sib >> 6);
        let index = extend((sib >> 3) & 0b111, prefixes.rex.x);
        // Index 100 without REX.X means "no index" (Intel SDM vol. 2 Table 2-3).
        if index != 0b100 {
            operand.index = Some((GeneralRegister::new(index)?, scale));
        }
        let base = sib & 0b111;
        if base == 0b101 && mode == 0b00 {
            displacement_bytes = 4;
        } else {
            operand.base = Some(GeneralRegister::new(extend(base, prefixes.rex.b))?);
        }
    } else if rm == 0b101 && mode == 0b00 {
        // RIP-relative in 64-bit mode, whatever REX.B says (Intel SDM vol. 2 §2.2.1.6).
        displacement_bytes = 4;
        operand.rip_relative_to = Some(address.wrapping_add(length_bytes as u64));
    } else {
        operand.base = Some(GeneralRegister::new(extend(rm, prefixes.rex.b))?);
    }
    operand.displacement = match displacement_bytes {
        1 => i64::from(*rest.first()? as i8),
        4 => i64::from(i32::from_le_bytes(*rest.first_chunk::<4>()?)),
        _ => 0,
    };
    Some(operand)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Register values for address tests: register n holds `0x1000 * (n + 1)`.
    fn register_value(register: GeneralRegister) -> u64 {
        0x1000 * (register.index() as u64 + 1)
    }

    /// Segment bases for address tests.
    fn segment_base(segment: BasedSegment) -> u64 {
        match segment {
            BasedSegment::Fs => 0xf500_0000,
            BasedSegment::Gs => 0xffff_8000_0000_0000,
        }
    }

    fn address_of(bytes: &[u8]) -> u64 {
        match decode(bytes, 0x40_0000) {
            Some(SpecialInstruction::Invlpg { operand }) => {
                operand.linear_address(register_value, segment_base)
            }
            other => panic!("{bytes:02x?} decoded to {other:?}"),
        }
    }

    fn mov_to_cr(bytes: &[u8]) -> Option<(ControlRegister, &'static str)> {
        match decode(bytes, 0)? {
            SpecialInstruction::MovToControlRegister { register, source } => {
                Some((register, source.name()))
            }
            other => panic!("{bytes:02x?} decoded to {other:?}"),
        }
    }

    #[test]
    fn mov_to_control_registers() {
        // mov cr3, rax / mov cr3, rdi / mov cr4, rcx / mov cr0, rax
        assert_eq!(
            mov_to_cr(&[0x0f, 0x22, 0xd8]),
            Some((ControlRegister::Cr3, "rax"))
        );
        assert_eq!(
            mov_to_cr(&[0x0f, 0x22, 0xdf]),
            Some((ControlRegister::Cr3, "rdi"))
        );
        assert_eq!(
            mov_to_cr(&[0x0f, 0x22, 0xe1]),
            Some((ControlRegister::Cr4, "rcx"))
        );
        assert_eq!(
            mov_to_cr(&[0x0f, 0x22, 0xc0]),
            Some((ControlRegister::Cr0, "rax"))
        );
        // REX.B: mov cr3, r8 / mov cr4, r15.
        assert_eq!(
            mov_to_cr(&[0x41, 0x0f, 0x22, 0xd8]),
            Some((ControlRegister::Cr3, "r8"))
        );
        assert_eq!(
            mov_to_cr(&[0x41, 0x0f, 0x22, 0xe7]),
            Some((ControlRegister::Cr4, "r15"))
        );
        // mov cr2, rax and mov cr8, rax (REX.R) are not followed.
        assert_eq!(mov_to_cr(&[0x0f, 0x22, 0xd0]), None);
        assert_eq!(mov_to_cr(&[0x44, 0x0f, 0x22, 0xc0]), None);
        // MOV from CR3 (0F 20) is not a write.
        assert_eq!(decode(&[0x0f, 0x20, 0xd8], 0), None);
    }

    #[test]
    fn invlpg_operands() {
        // invlpg [rax]
        assert_eq!(address_of(&[0x0f, 0x01, 0x38]), 0x1000);
        // invlpg [rdi]
        assert_eq!(address_of(&[0x0f, 0x01, 0x3f]), 0x8000);
        // invlpg [r9] (REX.B)
        assert_eq!(address_of(&[0x41, 0x0f, 0x01, 0x39]), 0xa000);
        // invlpg [rbx + 0x10] (disp8), [rbx - 0x10]
        assert_eq!(address_of(&[0x0f, 0x01, 0x7b, 0x10]), 0x4010);
        assert_eq!(address_of(&[0x0f, 0x01, 0x7b, 0xf0]), 0x3ff0);
        // invlpg [rbx + 0x12345678] (disp32)
        assert_eq!(
            address_of(&[0x0f, 0x01, 0xbb, 0x78, 0x56, 0x34, 0x12]),
            0x4000 + 0x1234_5678
        );
        // invlpg [rax + rcx*8] (SIB)
        assert_eq!(address_of(&[0x0f, 0x01, 0x3c, 0xc8]), 0x1000 + 8 * 0x2000);
        // invlpg [r8 + r9*2 + 4] (REX.XB, SIB, disp8)
        assert_eq!(
            address_of(&[0x43, 0x0f, 0x01, 0x7c, 0x48, 0x04]),
            0x9000 + 2 * 0xa000 + 4
        );
        // invlpg [rsp] needs a SIB with no index.
        assert_eq!(address_of(&[0x0f, 0x01, 0x3c, 0x24]), 0x5000);
        // invlpg [0x1000 + rcx*4] (SIB, no base, disp32)
        assert_eq!(
            address_of(&[0x0f, 0x01, 0x3c, 0x8d, 0x00, 0x10, 0x00, 0x00]),
            0x1000 + 4 * 0x2000
        );
        // invlpg [rbp + 0] needs mod=01.
        assert_eq!(address_of(&[0x0f, 0x01, 0x7d, 0x00]), 0x6000);
        // invlpg [r13] (REX.B, rm=101, mod=01): not RIP-relative.
        assert_eq!(address_of(&[0x41, 0x0f, 0x01, 0x7d, 0x00]), 0xe000);
    }

    #[test]
    fn invlpg_special_addressing() {
        // invlpg [rip + 0x100]: 7 bytes at 0x40_0000.
        assert_eq!(
            address_of(&[0x0f, 0x01, 0x3d, 0x00, 0x01, 0x00, 0x00]),
            0x40_0007 + 0x100
        );
        // invlpg gs:[rax]
        assert_eq!(address_of(&[0x65, 0x0f, 0x01, 0x38]), 0xffff_8000_0000_1000);
        // invlpg fs:[rax]
        assert_eq!(address_of(&[0x64, 0x0f, 0x01, 0x38]), 0xf500_1000);
        // invlpg [eax - 1] with the address-size prefix wraps at 32 bits.
        let operand = match decode(&[0x67, 0x0f, 0x01, 0x78, 0xff], 0) {
            Some(SpecialInstruction::Invlpg { operand }) => operand,
            other => panic!("{other:?}"),
        };
        assert_eq!(operand.linear_address(|_| 0, |_| 0), 0xffff_ffff);
        assert_eq!(
            operand.registers().collect::<Vec<_>>(),
            vec![GeneralRegister::RAX]
        );
    }

    #[test]
    fn other_group7_instructions_are_not_invlpg() {
        // lgdt [rax] (/2), swapgs (0F 01 F8: mod=11 reg=7), rdtscp (0F 01 F9).
        assert_eq!(decode(&[0x0f, 0x01, 0x10], 0), None);
        assert_eq!(decode(&[0x0f, 0x01, 0xf8], 0), None);
        assert_eq!(decode(&[0x0f, 0x01, 0xf9], 0), None);
    }

    #[test]
    fn invpcid() {
        // invpcid rax, [rdi]: 66 0F 38 82 07
        let bytes = [0x66, 0x0f, 0x38, 0x82, 0x07];
        match decode(&bytes, 0) {
            Some(SpecialInstruction::Invpcid {
                type_register,
                descriptor,
            }) => {
                assert_eq!(type_register.name(), "rax");
                assert_eq!(
                    descriptor.linear_address(register_value, segment_base),
                    0x8000
                );
            }
            other => panic!("{other:?}"),
        }
        // invpcid r10, [rsp + 8]: 66 44 0F 38 82 54 24 08
        let bytes = [0x66, 0x44, 0x0f, 0x38, 0x82, 0x54, 0x24, 0x08];
        match decode(&bytes, 0) {
            Some(SpecialInstruction::Invpcid {
                type_register,
                descriptor,
            }) => {
                assert_eq!(type_register.name(), "r10");
                assert_eq!(
                    descriptor.linear_address(register_value, segment_base),
                    0x5008
                );
            }
            other => panic!("{other:?}"),
        }
        // Without the 66 prefix 0F 38 82 is something else.
        assert_eq!(decode(&[0x0f, 0x38, 0x82, 0x07], 0), None);
        // A register operand is not INVPCID.
        assert_eq!(decode(&[0x66, 0x0f, 0x38, 0x82, 0xc7], 0), None);
    }

    #[test]
    fn wrmsr_and_markers() {
        assert_eq!(decode(&[0x0f, 0x30], 0), Some(SpecialInstruction::Wrmsr));
        // rdmsr is not followed.
        assert_eq!(decode(&[0x0f, 0x32], 0), None);
        for command in Command::ALL {
            assert_eq!(
                decode(&command.encode(), 0),
                Some(SpecialInstruction::Marker(command))
            );
        }
        // An ordinary long NOP is nothing.
        assert_eq!(decode(&[0x0f, 0x1f, 0x80, 0, 0, 0, 0], 0), None);
        assert_eq!(decode(&[0x0f, 0x1f, 0x44, 0x00, 0x00], 0), None);
    }

    #[test]
    fn truncated_and_ordinary_instructions() {
        assert_eq!(decode(&[], 0), None);
        assert_eq!(decode(&[0x0f], 0), None);
        assert_eq!(decode(&[0x0f, 0x22], 0), None);
        assert_eq!(decode(&[0x0f, 0x01, 0xbb, 0x78], 0), None);
        assert_eq!(decode(&[0x66, 0x0f, 0x38, 0x82], 0), None);
        // mov rax, [rbx]; ret; a lone REX.
        assert_eq!(decode(&[0x48, 0x8b, 0x03], 0), None);
        assert_eq!(decode(&[0xc3], 0), None);
        assert_eq!(decode(&[0x48], 0), None);
    }
}
