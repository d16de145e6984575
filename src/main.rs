fn main() {
    println!("{}", env!("SHOAL_KERNEL_ELF"));
    println!("{}", env!("SHOAL_BIOS_IMAGE"));
    println!("{}", env!("SHOAL_UEFI_IMAGE"));
}
