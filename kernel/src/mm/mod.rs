//! Memory management: the address map, physical frames, page tables, the kernel heap.
//!
//! - `layout`: the virtual-address map (the only file with addresses);
//! - `frame`: the physical frame allocator (`OwnedFrame`);
//! - `paging`: page tables and direct-map access (unsafe allowed);
//! - `heap`: the kernel heap (unsafe allowed);
//! - `kernel_image`: the kernel's own segments, for per-section permissions.

pub mod frame;
pub mod heap;
pub mod kernel_image;
pub mod layout;
pub mod paging;
