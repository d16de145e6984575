//! Descriptors of a Linux process: the FaaS streams, the console, read-only ramdisk files.
//!
//! fd 0 of a FaaS instance yields invocation frames (`abi::linux`) as a stream: a read returns
//! what is left of the current frame (up to the count asked for) and blocks, when nothing is
//! left, until the kernel's driver hands the instance its next invocation; fd 0 of any other
//! process is at end of file. fd 1 of an instance takes result frames only (bytes may come in
//! pieces); a byte that cannot be part of one ends the process with a report. fd 2, and fd 1 of a
//! process that is not an instance, print through the console's process channel. Files are the
//! ramdisk's, read-only: `/bin/<program>`, `/scenarios/<name>`, ...; the working directory is `/`.

#![deny(unsafe_code)]

extern crate alloc;

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::AtomicU64;

use abi::linux::{FRAME_HEADER_BYTES, FrameError, RESULT_FRAME_BYTES};

use super::state::{Descriptor, InputFrame, MAX_DESCRIPTORS, OpenFile, Slot};
use super::{Answer, Errno};
use crate::mm::user_copy;
use crate::process::scheduler;

/// `dirfd` meaning "the working directory".
pub const AT_FDCWD: u64 = (-100i64) as u64;
/// `AT_EMPTY_PATH`: an empty path names `dirfd` itself.
const AT_EMPTY_PATH: u64 = 0x1000;
/// `AT_SYMLINK_NOFOLLOW` (there are no links: accepted and ignored).
const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
/// `AT_NO_AUTOMOUNT`, `AT_STATX_*` sync flags: accepted and ignored.
const AT_IGNORED: u64 = 0x800 | 0x6000;
/// `O_ACCMODE` and its values.
const O_ACCMODE: u64 = 3;
const O_WRONLY: u64 = 1;
/// `O_CREAT`.
const O_CREAT: u64 = 0o100;
/// `O_DIRECTORY`.
const O_DIRECTORY: u64 = 0o200000;
/// `O_CLOEXEC`.
const O_CLOEXEC: u64 = 0o2000000;
/// Longest path accepted (`PATH_MAX`).
const PATH_MAX: usize = 4096;
/// Most iovec entries one `readv`/`writev` takes (`IOV_MAX`).
const IOV_MAX: u64 = 1024;
/// Bytes the console takes per `write` (the native `WRITE_MAX_BYTES`); a longer write is short.
const CONSOLE_CHUNK: u64 = abi::WRITE_MAX_BYTES;

/// Runs `operation` on the running process's Linux state and address space.
fn with_process<R>(operation: impl FnOnce(&mut scheduler::LinuxProcess<'_>) -> R) -> Result<R, Errno> {
    scheduler::with_current_linux(operation).ok_or(Errno::EINVAL)
}

/// Copies `buffer.len()` bytes in from user memory.
pub(super) fn copy_in(address: u64, buffer: &mut [u8]) -> Result<(), Errno> {
    with_process(|process| user_copy::copy_from_user(process.space, address, buffer))?.map_err(Errno::from)
}

/// Copies `bytes` out to user memory.
pub(super) fn copy_out(address: u64, bytes: &[u8]) -> Result<(), Errno> {
    with_process(|process| user_copy::copy_to_user(process.space, address, bytes))?.map_err(Errno::from)
}

/// Checks that `length` bytes at `address` are writable user memory.
pub(super) fn check_writable(address: u64, length: u64) -> Result<(), Errno> {
    with_process(|process| user_copy::check_writable(process.space, address, length))?.map_err(Errno::from)
}

/// Returns the descriptor `fd` refers to.
fn descriptor(fd: u64) -> Result<Descriptor, Errno> {
    with_process(|process| process.state.slot(fd).map(|slot| slot.descriptor.clone()))?.ok_or(Errno::EBADF)
}

/// Returns whether the running process is a FaaS instance.
fn instance() -> bool {
    with_process(|process| process.instance).unwrap_or(false)
}

/// `read(fd, buffer, count)`. Only the bytes the read can deliver are checked (and, for demand
/// memory, populated): a huge count costs no more than what is there to read.
pub fn read(fd: u64, buffer: u64, count: u64) -> Answer {
    let descriptor = descriptor(fd)?;
    match descriptor {
        Descriptor::Input => {
            let count = count.min((FRAME_HEADER_BYTES + abi::PAYLOAD_MAX_BYTES as usize) as u64);
            check_writable(buffer, count)?;
            read_input(buffer, count)
        }
        Descriptor::Output | Descriptor::Log => Err(Errno::EBADF),
        Descriptor::File(file) => {
            let done = read_file(&file, file.offset(), buffer, count)?;
            file.set_offset(file.offset() + done);
            Ok(done)
        }
    }
}

/// `pread64(fd, buffer, count, offset)`.
pub fn pread(fd: u64, buffer: u64, count: u64, offset: u64) -> Answer {
    let descriptor = descriptor(fd)?;
    if offset > i64::MAX as u64 {
        return Err(Errno::EINVAL);
    }
    match descriptor {
        Descriptor::File(file) => read_file(&file, offset, buffer, count),
        Descriptor::Input | Descriptor::Output | Descriptor::Log => Err(Errno::ESPIPE),
    }
}

/// Copies up to `count` bytes of `file` from `offset` to `buffer` (checking the buffer for the
/// bytes there are, even at end of file); returns how many.
fn read_file(file: &OpenFile, offset: u64, buffer: u64, count: u64) -> Answer {
    if file.folder {
        return Err(Errno::EISDIR);
    }
    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(file.data.len());
    let length = (file.data.len() - start).min(usize::try_from(count).unwrap_or(usize::MAX));
    check_writable(buffer, (length as u64).max(u64::from(count > 0)))?;
    copy_out(buffer, &file.data[start..start + length])?;
    Ok(length as u64)
}

/// Reads fd 0: the rest of the current invocation frame, blocking for the next invocation when
/// none is pending. A process that is not an instance is at end of file.
fn read_input(buffer: u64, count: u64) -> Answer {
    if count == 0 || !instance() {
        return Ok(0);
    }
    let pending = with_process(|process| process.state.input.is_some())?;
    if !pending {
        // Blocks (outside every lock) until the driver delivers.
        let invocation = scheduler::take_invocation(abi::PAYLOAD_MAX_BYTES as usize).map_err(Errno::from)?;
        let (bytes, length) = abi::linux::invocation_frame(&invocation.payload[..invocation.length]).ok_or(Errno::EINVAL)?;
        with_process(|process| process.state.input = Some(InputFrame { bytes, length, position: 0 }))?;
    }
    let (chunk, length) = with_process(|process| {
        let frame = process.state.input.as_mut()?;
        let take = (frame.length - frame.position).min(usize::try_from(count).unwrap_or(usize::MAX));
        let mut chunk = [0u8; FRAME_HEADER_BYTES + abi::PAYLOAD_MAX_BYTES as usize];
        chunk[..take].copy_from_slice(&frame.bytes[frame.position..frame.position + take]);
        frame.position += take;
        if frame.position == frame.length {
            process.state.input = None;
        }
        Some((chunk, take))
    })?
    .ok_or(Errno::EINVAL)?;
    copy_out(buffer, &chunk[..length])?;
    Ok(length as u64)
}

/// `write(fd, buffer, count)`.
pub fn write(fd: u64, buffer: u64, count: u64) -> Answer {
    match descriptor(fd)? {
        Descriptor::Log => console(buffer, count),
        Descriptor::Output if !instance() => console(buffer, count),
        Descriptor::Output => result_frames(buffer, count),
        Descriptor::Input | Descriptor::File(_) => Err(Errno::EBADF),
    }
}

/// Prints up to [`CONSOLE_CHUNK`] bytes through the process channel; returns how many.
fn console(buffer: u64, count: u64) -> Answer {
    if count == 0 {
        return Ok(0);
    }
    let length = count.min(CONSOLE_CHUNK);
    super::super::native::write(buffer, length).map_err(Errno::from)
}

/// Takes bytes of result frames on an instance's fd 1; each complete frame ends the running
/// invocation with its result. Anything that is not a result frame ends the process.
fn result_frames(buffer: u64, count: u64) -> Answer {
    let mut done = 0u64;
    while done < count {
        let (offset, wanted) = with_process(|process| (process.state.output_length, RESULT_FRAME_BYTES - process.state.output_length))?;
        let take = (wanted as u64).min(count - done) as usize;
        let mut piece = [0u8; RESULT_FRAME_BYTES];
        copy_in(buffer + done, &mut piece[..take])?;
        let frame = with_process(|process| {
            process.state.output[offset..offset + take].copy_from_slice(&piece[..take]);
            process.state.output_length += take;
            let frame = process.state.output;
            let complete = process.state.output_length == RESULT_FRAME_BYTES;
            if complete {
                process.state.output_length = 0;
            }
            (frame, process.state.output_length, complete)
        })?;
        done += take as u64;
        let (frame, filled, complete) = frame;
        // A wrong length prefix is wrong as soon as it is whole.
        let decoded = abi::linux::decode_result_frame(&frame[..if complete { RESULT_FRAME_BYTES } else { filled }]);
        match decoded {
            Ok(result) if complete => {
                if scheduler::finish_invocation(result).is_err() {
                    protocol_error("a result frame on fd 1 while no invocation is running");
                }
            }
            Err(FrameError::WrongLength(length)) => {
                protocol_error(&alloc::format!("fd 1 carries result frames only, and this one says {length} bytes instead of {}", abi::linux::RESULT_BYTES));
            }
            _ => {}
        }
    }
    Ok(count)
}

/// Ends the running instance for breaking the frame protocol, with one report line.
fn protocol_error(what: &str) -> ! {
    let (pid, name) = scheduler::current_identity().unwrap_or((0, "?"));
    crate::println!("process {pid} ({name}): killed: FaaS protocol: {what}");
    scheduler::exit_current(abi::EndReason::Exited, crate::syscall::linux::process::PROTOCOL_EXIT_CODE)
}

/// Reads the `count` iovecs at `vector` (after checking the count).
fn iovecs(vector: u64, count: u64) -> Result<Vec<(u64, u64)>, Errno> {
    if count > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    let mut bytes = alloc::vec![0u8; count as usize * 16];
    copy_in(vector, &mut bytes)?;
    let list: Vec<(u64, u64)> = bytes
        .as_chunks::<16>()
        .0
        .iter()
        .map(|entry| (u64::from_le_bytes(entry[..8].try_into().unwrap_or_default()), u64::from_le_bytes(entry[8..].try_into().unwrap_or_default())))
        .collect();
    let mut total = 0u64;
    for (_, length) in &list {
        total = total.checked_add(*length).filter(|total| *total <= i64::MAX as u64).ok_or(Errno::EINVAL)?;
    }
    Ok(list)
}

/// `readv(fd, vector, count)`: reads into each buffer in turn, stopping at a short read.
pub fn readv(fd: u64, vector: u64, count: u64) -> Answer {
    descriptor(fd)?;
    let mut done = 0;
    for (base, length) in iovecs(vector, count)? {
        if length == 0 {
            continue;
        }
        let got = match read(fd, base, length) {
            Ok(got) => got,
            Err(error) if done == 0 => return Err(error),
            Err(_) => break,
        };
        done += got;
        if got < length {
            break;
        }
    }
    Ok(done)
}

/// `writev(fd, vector, count)`: writes each buffer in turn, stopping at a short write. Each write
/// checks the bytes it takes (a console write takes at most 4096), so a huge buffer costs no
/// more than those; a bad buffer after some bytes went out ends the call with their count, as
/// on Linux.
pub fn writev(fd: u64, vector: u64, count: u64) -> Answer {
    descriptor(fd)?;
    let mut done = 0;
    for (base, length) in iovecs(vector, count)? {
        if length == 0 {
            continue;
        }
        let wrote = match write(fd, base, length) {
            Ok(wrote) => wrote,
            Err(error) if done == 0 => return Err(error),
            Err(_) => break,
        };
        done += wrote;
        if wrote < length {
            break;
        }
    }
    Ok(done)
}

/// Copies the NUL-terminated path at `address` in, page piece by page piece.
fn path_in(address: u64) -> Result<String, Errno> {
    let mut path = Vec::new();
    let mut cursor = address;
    loop {
        let in_page = 4096 - (cursor % 4096) as usize;
        let mut piece = [0u8; 256];
        let take = in_page.min(piece.len());
        copy_in(cursor, &mut piece[..take])?;
        if let Some(end) = piece[..take].iter().position(|&byte| byte == 0) {
            path.extend_from_slice(&piece[..end]);
            break;
        }
        path.extend_from_slice(&piece[..take]);
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        cursor += take as u64;
    }
    String::from_utf8(path).map_err(|_| Errno::ENOENT)
}

/// Resolves `path` against `dirfd` into an archive path (no leading `/`, no `.` or `..`).
fn resolve(dirfd: u64, path: &str) -> Result<String, Errno> {
    let base = if path.starts_with('/') || dirfd == AT_FDCWD {
        String::new()
    } else {
        match descriptor(dirfd)? {
            Descriptor::File(file) if file.folder => file.path.clone(),
            Descriptor::File(_) => return Err(Errno::ENOTDIR),
            _ => return Err(Errno::ENOTDIR),
        }
    };
    let mut parts: Vec<&str> = base.split('/').filter(|part| !part.is_empty()).collect();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}

/// What a path names.
enum Found {
    File(&'static str, &'static [u8]),
    Folder(String),
}

/// Looks `path` up in the ramdisk.
fn find(path: &str) -> Result<Found, Errno> {
    if let Some((name, data)) = crate::ramdisk::file(path) {
        return Ok(Found::File(name, data));
    }
    if crate::ramdisk::is_folder(path) {
        return Ok(Found::Folder(String::from(path)));
    }
    Err(Errno::ENOENT)
}

/// `openat(dirfd, path, flags)` (and `open`, with `AT_FDCWD`).
pub fn open_at(dirfd: u64, path: u64, flags: u64) -> Answer {
    let path = path_in(path)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let resolved = resolve(dirfd, &path)?;
    let found = find(&resolved);
    if flags & O_ACCMODE != 0 || (found.is_err() && flags & O_CREAT != 0) {
        return Err(if matches!(found, Ok(Found::Folder(_))) { Errno::EISDIR } else { Errno::EROFS });
    }
    let file = match found? {
        Found::File(..) if flags & O_DIRECTORY != 0 => return Err(Errno::ENOTDIR),
        Found::File(name, data) => OpenFile { path: String::from(name), data, folder: false, offset: AtomicU64::new(0) },
        Found::Folder(folder) => OpenFile { path: folder, data: &[], folder: true, offset: AtomicU64::new(0) },
    };
    let file = Arc::try_new(file).map_err(|_| Errno::ENOMEM)?;
    with_process(|process| {
        let fd = process.state.free_descriptor(0).ok_or(Errno::EMFILE)?;
        process.state.descriptors[fd] = Some(Slot { descriptor: Descriptor::File(file), close_on_exec: flags & O_CLOEXEC != 0 });
        Ok(fd as u64)
    })?
}

/// `access(path, mode)` / `faccessat(dirfd, path, mode)`.
pub fn access_at(dirfd: u64, path: u64, mode: u64) -> Answer {
    const W_OK: u64 = 2;
    const X_OK: u64 = 1;
    if mode & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    let resolved = resolve(dirfd, &path_in(path)?)?;
    let found = find(&resolved)?;
    if mode & W_OK != 0 {
        return Err(Errno::EROFS);
    }
    if mode & X_OK != 0 && matches!(found, Found::File(name, _) if !name.starts_with(crate::ramdisk::BINARY_FOLDER)) {
        return Err(Errno::EACCES);
    }
    Ok(0)
}

/// `close(fd)`.
pub fn close(fd: u64) -> Answer {
    with_process(|process| {
        let slot = process.state.descriptors.get_mut(usize::try_from(fd).map_err(|_| Errno::EBADF)?).ok_or(Errno::EBADF)?;
        slot.take().map(|_| 0).ok_or(Errno::EBADF)
    })?
}

/// `lseek(fd, offset, whence)`.
pub fn lseek(fd: u64, offset: u64, whence: u64) -> Answer {
    let Descriptor::File(file) = descriptor(fd)? else { return Err(Errno::ESPIPE) };
    let offset = offset as i64;
    let origin = match whence {
        0 => 0,
        1 => file.offset() as i64,
        2 => file.data.len() as i64,
        _ => return Err(Errno::EINVAL),
    };
    let target = origin.checked_add(offset).filter(|target| *target >= 0).ok_or(Errno::EINVAL)?;
    file.set_offset(target as u64);
    Ok(target as u64)
}

/// `dup(fd)`.
pub fn dup(fd: u64) -> Answer {
    with_process(|process| {
        let slot = process.state.slot(fd).cloned().ok_or(Errno::EBADF)?;
        let new = process.state.free_descriptor(0).ok_or(Errno::EMFILE)?;
        process.state.descriptors[new] = Some(Slot { close_on_exec: false, ..slot });
        Ok(new as u64)
    })?
}

/// `dup3(old, new, flags)`, and `dup2(old, new)` with `two`.
pub fn dup3(old: u64, new: u64, flags: u64, two: bool) -> Answer {
    if flags & !O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    with_process(|process| {
        let slot = process.state.slot(old).cloned().ok_or(Errno::EBADF)?;
        let target = usize::try_from(new).ok().filter(|new| *new < MAX_DESCRIPTORS).ok_or(Errno::EBADF)?;
        if old == new {
            return if two { Ok(new) } else { Err(Errno::EINVAL) };
        }
        process.state.descriptors[target] = Some(Slot { close_on_exec: flags & O_CLOEXEC != 0, ..slot });
        Ok(new)
    })?
}

/// `fcntl(fd, command, argument)`: F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL,
/// F_DUPFD_CLOEXEC.
pub fn fcntl(fd: u64, command: u64, argument: u64) -> Answer {
    const F_DUPFD: u64 = 0;
    const F_GETFD: u64 = 1;
    const F_SETFD: u64 = 2;
    const F_GETFL: u64 = 3;
    const F_SETFL: u64 = 4;
    const F_DUPFD_CLOEXEC: u64 = 1030;
    const FD_CLOEXEC: u64 = 1;
    with_process(|process| {
        let slot = process.state.slot(fd).cloned().ok_or(Errno::EBADF)?;
        match command {
            F_DUPFD | F_DUPFD_CLOEXEC => {
                let minimum = usize::try_from(argument).ok().filter(|minimum| *minimum < MAX_DESCRIPTORS).ok_or(Errno::EINVAL)?;
                let new = process.state.free_descriptor(minimum).ok_or(Errno::EMFILE)?;
                process.state.descriptors[new] = Some(Slot { close_on_exec: command == F_DUPFD_CLOEXEC, ..slot });
                Ok(new as u64)
            }
            F_GETFD => Ok(u64::from(slot.close_on_exec)),
            F_SETFD => {
                if let Some(Some(slot)) = process.state.descriptors.get_mut(fd as usize) {
                    slot.close_on_exec = argument & FD_CLOEXEC != 0;
                }
                Ok(0)
            }
            F_GETFL => Ok(match slot.descriptor {
                Descriptor::Output | Descriptor::Log => O_WRONLY,
                Descriptor::Input => 0,
                Descriptor::File(ref file) if file.folder => O_DIRECTORY,
                Descriptor::File(_) => 0,
            }),
            // Status flags (O_APPEND, O_NONBLOCK, ...) change nothing here.
            F_SETFL => Ok(0),
            _ => Err(Errno::EINVAL),
        }
    })?
}

/// `ioctl(fd, request, ...)`: no descriptor is a terminal.
pub fn ioctl(fd: u64, _request: u64) -> Answer {
    descriptor(fd)?;
    Err(Errno::ENOTTY)
}

/// `poll(fds, count, timeout)` / `ppoll(fds, count, ...)`: every descriptor is ready except an
/// instance's fd 0 with no invocation pending; never blocks (no process waits for time).
pub fn poll(fds: u64, count: u64) -> Answer {
    const POLLIN: u16 = 1;
    const POLLOUT: u16 = 4;
    const POLLNVAL: u16 = 0x20;
    if count > MAX_DESCRIPTORS as u64 {
        return Err(Errno::EINVAL);
    }
    let mut entries = alloc::vec![0u8; count as usize * 8];
    copy_in(fds, &mut entries)?;
    check_writable(fds, entries.len() as u64)?;
    let mut ready = 0;
    for entry in entries.as_chunks_mut::<8>().0 {
        let fd = i32::from_le_bytes(entry[..4].try_into().unwrap_or_default());
        let events = u16::from_le_bytes(entry[4..6].try_into().unwrap_or_default());
        let revents = if fd < 0 {
            0
        } else {
            match descriptor(fd as u64) {
                Err(_) => POLLNVAL,
                Ok(Descriptor::Input) => {
                    let waiting = with_process(|process| process.instance && process.state.input.is_none() && !process.has_pending_invocation)?;
                    if waiting { 0 } else { events & POLLIN }
                }
                Ok(Descriptor::Output | Descriptor::Log) => events & POLLOUT,
                Ok(Descriptor::File(_)) => events & (POLLIN | POLLOUT),
            }
        };
        entry[6..8].copy_from_slice(&revents.to_le_bytes());
        if revents != 0 {
            ready += 1;
        }
    }
    copy_out(fds, &entries)?;
    Ok(ready)
}

/// `getcwd(buffer, size)`: always `/`.
pub fn getcwd(buffer: u64, size: u64) -> Answer {
    if size < 2 {
        return Err(Errno::ERANGE);
    }
    copy_out(buffer, b"/\0")?;
    Ok(2)
}

/// File metadata for `stat` and `statx`.
struct Metadata {
    mode: u32,
    size: u64,
    inode: u64,
}

/// Mode bits.
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;
const S_IFCHR: u32 = 0o020000;
const S_IFIFO: u32 = 0o010000;

/// Returns an inode number for an archive path (FNV-1a, never 0).
fn inode_of(path: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in path.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
    }
    hash | 1
}

/// Returns the metadata of what descriptor `descriptor` refers to.
fn metadata_of(descriptor: &Descriptor) -> Metadata {
    let stream = if instance() { S_IFIFO | 0o600 } else { S_IFCHR | 0o620 };
    match descriptor {
        Descriptor::Input => Metadata { mode: stream, size: 0, inode: 3 },
        Descriptor::Output => Metadata { mode: stream, size: 0, inode: 4 },
        Descriptor::Log => Metadata { mode: S_IFCHR | 0o620, size: 0, inode: 5 },
        Descriptor::File(file) if file.folder => Metadata { mode: S_IFDIR | 0o555, size: 0, inode: inode_of(&file.path) },
        Descriptor::File(file) => Metadata { mode: S_IFREG | 0o444, size: file.data.len() as u64, inode: inode_of(&file.path) },
    }
}

/// Returns the metadata `dirfd` + `path` (with `flags`) names.
fn metadata_at(dirfd: u64, path: u64, flags: u64) -> Result<Metadata, Errno> {
    if flags & !(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_IGNORED) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = path_in(path)?;
    if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        if dirfd == AT_FDCWD {
            return Ok(Metadata { mode: S_IFDIR | 0o555, size: 0, inode: inode_of("") });
        }
        return Ok(metadata_of(&descriptor(dirfd)?));
    }
    Ok(match find(&resolve(dirfd, &path)?)? {
        Found::File(name, data) => Metadata { mode: S_IFREG | 0o444, size: data.len() as u64, inode: inode_of(name) },
        Found::Folder(folder) => Metadata { mode: S_IFDIR | 0o555, size: 0, inode: inode_of(&folder) },
    })
}

/// Writes `metadata` as a `struct stat` at `buffer`.
fn write_stat(buffer: u64, metadata: &Metadata) -> Answer {
    let mut stat = [0u8; 144];
    stat[0..8].copy_from_slice(&1u64.to_le_bytes()); // st_dev
    stat[8..16].copy_from_slice(&metadata.inode.to_le_bytes());
    stat[16..24].copy_from_slice(&1u64.to_le_bytes()); // st_nlink
    stat[24..28].copy_from_slice(&metadata.mode.to_le_bytes());
    stat[48..56].copy_from_slice(&metadata.size.to_le_bytes());
    stat[56..64].copy_from_slice(&4096u64.to_le_bytes()); // st_blksize
    stat[64..72].copy_from_slice(&metadata.size.div_ceil(512).to_le_bytes()); // st_blocks
    copy_out(buffer, &stat)?;
    Ok(0)
}

/// `fstat(fd, buffer)`.
pub fn fstat(fd: u64, buffer: u64) -> Answer {
    let metadata = metadata_of(&descriptor(fd)?);
    write_stat(buffer, &metadata)
}

/// `newfstatat(dirfd, path, buffer, flags)` (and `stat`/`lstat`).
pub fn stat_at(dirfd: u64, path: u64, buffer: u64, flags: u64) -> Answer {
    check_writable(buffer, 144)?;
    let metadata = metadata_at(dirfd, path, flags)?;
    write_stat(buffer, &metadata)
}

/// `statx(dirfd, path, flags, mask, buffer)`.
pub fn statx(dirfd: u64, path: u64, flags: u64, _mask: u64, buffer: u64) -> Answer {
    const STATX_BASIC_STATS: u32 = 0x7ff;
    check_writable(buffer, 256)?;
    let metadata = metadata_at(dirfd, path, flags)?;
    let mut statx = [0u8; 256];
    statx[0..4].copy_from_slice(&STATX_BASIC_STATS.to_le_bytes());
    statx[4..8].copy_from_slice(&4096u32.to_le_bytes()); // stx_blksize
    statx[16..20].copy_from_slice(&1u32.to_le_bytes()); // stx_nlink
    statx[28..30].copy_from_slice(&(metadata.mode as u16).to_le_bytes());
    statx[32..40].copy_from_slice(&metadata.inode.to_le_bytes());
    statx[40..48].copy_from_slice(&metadata.size.to_le_bytes());
    statx[48..56].copy_from_slice(&metadata.size.div_ceil(512).to_le_bytes());
    statx[140..144].copy_from_slice(&1u32.to_le_bytes()); // stx_dev_minor
    copy_out(buffer, &statx)?;
    Ok(0)
}
