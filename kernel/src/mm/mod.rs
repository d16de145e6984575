//! Memory management: the address map, physical frames, page tables, the kernel heap.
//!
//! - `layout`: the virtual-address map (the only file with addresses);
//! - `frame`: the physical frame allocator (`OwnedFrame`);
//! - `paging`: page tables and direct-map access (unsafe allowed);
//! - `heap`: the kernel heap (unsafe allowed);
//! - `kernel_image`: the kernel's own segments, for per-section permissions;
//! - `address_space`: a process's page tables and frames; `pcid`: PCID leases;
//! - `global_segment`: binaries loaded once into the window, shared by every process;
//! - `user_copy`: checked copies between kernel buffers and user memory.

pub mod address_space;
pub mod frame;
pub mod global_segment;
pub mod heap;
pub mod kernel_image;
pub mod layout;
pub mod paging;
pub mod pcid;
pub mod user_copy;
