//! `linux-guest-init`: the init process of the Linux baseline's initramfs, and its density driver.
//!
//! `shoal bench --baseline linux` boots a Debian Linux kernel under QEMU TCG and the tlbsim
//! plugin with an initramfs holding this program as `/init` and the workload binaries as
//! `/bin/<name>`: the same musl static-pie files shoal runs on its Linux personality. This
//! program measures one configuration (a workload and a number of instances N) the way shoal's
//! kernel does (`kernel/src/bench/density.rs`), so that `shoal bench` reads both alike:
//!
//! 1. the tlbsim `DriverSpace` marker (the walks made in this process's address space are
//!    counted apart, as `walks.driver`) and the `Reset` marker; then N instances, each started
//!    with fork and execve, its fd 0 and fd 1 pipes to this driver, argv `[name, argument]`
//!    (handler `i mod 8` for a language runtime, 0 for a synthetic one), each waited for until
//!    it blocks reading its first frame;
//! 2. **warm**: warm-up rounds (each instance once per round, in order, closed loop: this driver
//!    writes an invocation frame to instance i and reads its result frame before instance i + 1),
//!    then a pass that populates every page each instance has mapped (a byte of each page
//!    `/proc/<pid>/pagemap` shows absent is read through `/proc/<pid>/mem`, and written back in
//!    private writable mappings), so that no page fault lands in the measured rounds (shoal maps
//!    a binary's read-only pages whole at load); then `ZeroCounters` and the measured rounds inside
//!    phase `id`;
//! 3. **spawn** (phase `id + 3`): one more instance started by fork and execve, until it blocks
//!    reading its first frame (the driver looks at `/proc/<pid>/stat` once per millisecond of
//!    guest time, a few thousand instructions a look, counted in); then **cold, shared-warm**
//!    (phase `id + 1`): that fresh instance's first invocation;
//! 4. **posix_spawn** (phase `id + 4`): another instance started by posix_spawn, likewise; then
//!    **cold, flushed** (phase `id + 2`): its first invocation after the
//!    `FlushTlbs` marker empties the modelled TLBs (a Linux process cannot invalidate global
//!    entries; the marker is the same flush as far as the simulator is concerned);
//! 5. shut-down frames to every instance, their exit statuses checked, and one `result: density`
//!    line on the console with the fields of shoal's line, `kernel=<baseline>`, the guest
//!    kernel's release, the instances' page faults in the measured rounds (0 after the populate
//!    pass), and the page-table pages /proc/meminfo counted.
//!
//! Seeds and payloads are shoal's: invocation ids count from 0 across the warm-up, measured and
//! cold invocations, and each invocation's seed is its id (`abi::synthetic`, `abi::wasm`). The
//! run ends through QEMU's `isa-debug-exit` port (0x10 success, 0x11 failure), as shoal's does.
//!
//! Differences from shoal that the comparison must state (the bench report does): the driver is
//! a process, so an invocation switches address spaces twice (driver → instance → driver) where
//! shoal's in-kernel driver switches once; the timer keeps ticking (Linux's tick at its own
//! rate), while shoal masks its timer in a configuration.
//!
//! Arguments come from the kernel command line after `--` (Linux passes them to init as argv):
//! `workload=<name> file=<binary in /bin> instances=<N> warmup=<W> invocations=<I>
//! handlers=<0|1> [kernel=<linux|linux-pti|linux-thp|linux-batch>] [thp=<0|1>]
//! [sched=<normal|batch>] [id=<first phase id>] [code_pages=32] [data_pages=32]`. With `thp=1`
//! the binary is copied into a tmpfs mounted `huge=always` and started from there, so that the
//! kernel may map its file pages with 2 MiB pages; the result line says how much it did
//! (`thp_file_kb`, `thp_anon_kb`: the instances' `FilePmdMapped` + `ShmemPmdMapped` and
//! `AnonHugePages`, summed).
//!
//! **Preemption.** Under the default policy (`sched=normal`, `SCHED_NORMAL`), the driver's
//! wake-up when an instance writes its result preempts that instance if it has run longer than
//! the scheduler's wake-up granularity (about a millisecond of guest time): the instance is
//! switched out before it reaches its next read, and switched back in later only to get there,
//! an address-space switch (and, without PCID, a re-walk of the pages that path touches) that
//! shoal's in-kernel driver never causes. The result line counts these switches
//! (`instance_preemptions`: the instances' `nonvoluntary_ctxt_switches` over the measured
//! rounds). With `sched=batch` the driver runs under `SCHED_BATCH`, whose wake-ups never preempt
//! (`check_preempt_wakeup` in `kernel/sched/fair.c`), with `SCHED_RESET_ON_FORK`, so the
//! instances keep `SCHED_NORMAL`.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;

use tlbsim_protocol::Command;
// The link glue every Rust program of this workspace needs (see `rt/src/lib.rs`).
use linux_rt as _;

/// Port of QEMU's `isa-debug-exit` device (`qemu-runner.sh`).
const EXIT_PORT: u16 = 0xf4;
/// Value written for success (QEMU exits with status 33).
const EXIT_SUCCESS: u8 = 0x10;
/// Value written for failure (QEMU exits with status 35).
const EXIT_FAILURE: u8 = 0x11;
/// Bytes of a page.
const PAGE_BYTES: u64 = 4096;
/// Where the `linux-thp` baseline mounts its huge-page tmpfs.
const HUGE_DIRECTORY: &str = "/huge";
/// Pages of a task's kernel stack on x86-64 Linux (THREAD_SIZE, 16 KiB without KASAN).
const KERNEL_STACK_PAGES: u64 = 4;

/// Emits the tlbsim marker for `command` with `argument` in RAX: a 7-byte NOP on any CPU
/// (`kernel/libs/tlbsim-protocol`).
macro_rules! marker {
    ($command:expr, $argument:expr) => {
        // SAFETY: `nop dword ptr [rax + disp32]` is an architectural no-operation: it reads no
        // memory and changes no register or flag. Not `nomem`: it is also a compiler barrier,
        // so the work of a phase stays between its markers.
        unsafe {
            core::arch::asm!(
                ".byte 0x0f, 0x1f, 0x80",
                ".4byte {displacement}",
                displacement = const $command.displacement(),
                in("rax") $argument,
                options(nostack, preserves_flags),
            )
        }
    };
}

/// Begins tlbsim phase `id` named `name`.
fn begin_phase(id: u64, name: &str) {
    for word in tlbsim_protocol::name_words(name.as_bytes()) {
        marker!(Command::NamePhase, word);
    }
    marker!(Command::BeginPhase, id);
}

/// Ends tlbsim phase `id`.
fn end_phase(id: u64) {
    marker!(Command::EndPhase, id);
}

/// The configuration, from the command line.
struct Config {
    /// The workload's name in the results (`synth-small`).
    workload: String,
    /// The binary's file name in `/bin` (`synth-small-musl`).
    file: String,
    /// Warm instances N.
    instances: usize,
    /// Warm-up invocations (rounded up to whole rounds, at least one).
    warmup: u64,
    /// Measured invocations (rounded up to whole rounds, at least one).
    invocations: u64,
    /// Whether the workload hosts the eight handlers (payload `abi::wasm::Payload`, instance i
    /// serves handler i mod 8); otherwise it is a synthetic runtime.
    handlers: bool,
    /// Id of the warm phase; the cold ones are `id + 1` and `id + 2`.
    id: u64,
    /// Code pages per synthetic invocation.
    code_pages: u32,
    /// Data pages per synthetic invocation.
    data_pages: u32,
    /// The baseline's name in the results' `kernel` field (`linux`, `linux-pti`, `linux-thp`).
    kernel: String,
    /// Run the binary from a tmpfs mounted `huge=always`, so that the kernel may map its file
    /// pages with 2 MiB pages (the `linux-thp` baseline).
    thp: bool,
    /// Run this driver under `SCHED_BATCH` (the `linux-batch` baseline; `sched=batch`), so that
    /// its wake-ups never preempt a running instance.
    batch: bool,
}

impl Config {
    /// Returns the path the instances are started from: `/bin/<file>`, or its copy in the
    /// huge-page tmpfs.
    fn path(&self) -> String {
        if self.thp { format!("{HUGE_DIRECTORY}/{}", self.file) } else { format!("/bin/{}", self.file) }
    }
}

impl Config {
    /// Parses `key=value` arguments.
    fn parse(arguments: impl Iterator<Item = String>) -> Result<Config, String> {
        let mut config = Config {
            workload: String::new(),
            file: String::new(),
            instances: 0,
            warmup: 0,
            invocations: 0,
            handlers: false,
            id: 100,
            code_pages: 32,
            data_pages: 32,
            kernel: "linux".into(),
            thp: false,
            batch: false,
        };
        for argument in arguments {
            // Linux also hands init the command-line words it does not know that have no `=`
            // (`nokaslr`, `norandmaps`): they are not ours.
            let Some((key, value)) = argument.split_once('=') else { continue };
            let number = || value.parse::<u64>().map_err(|_| format!("{key}={value}: not a whole number"));
            match key {
                "workload" => config.workload = value.to_owned(),
                "file" => config.file = value.to_owned(),
                "instances" => config.instances = number()? as usize,
                "warmup" => config.warmup = number()?,
                "invocations" => config.invocations = number()?,
                "handlers" => config.handlers = number()? != 0,
                "id" => config.id = number()?,
                "code_pages" => config.code_pages = number()? as u32,
                "data_pages" => config.data_pages = number()? as u32,
                "kernel" => config.kernel = value.to_owned(),
                "thp" => config.thp = number()? != 0,
                "sched" => {
                    config.batch = match value {
                        "normal" => false,
                        "batch" => true,
                        _ => return Err(format!("sched={value}: neither normal nor batch")),
                    }
                }
                _ => return Err(format!("unknown argument \"{key}\"")),
            }
        }
        if config.workload.is_empty() || config.file.is_empty() || config.file.contains('/') {
            return Err("workload= and file= (a name in /bin) are required".into());
        }
        if config.instances == 0 || config.instances > 65536 {
            return Err(format!("instances={} is not in 1..=65536", config.instances));
        }
        Ok(config)
    }

    /// Returns instance `index`'s process argument.
    fn argument(&self, index: usize) -> u64 {
        if self.handlers { (index % abi::wasm::FUNCTIONS.len()) as u64 } else { 0 }
    }

    /// Returns the payload of the invocation with id (and seed) `seed`.
    fn payload(&self, seed: u64) -> Vec<u8> {
        if self.handlers {
            abi::wasm::Payload { seed, flags: 0 }.encode().to_vec()
        } else {
            abi::synthetic::Payload { seed, code_pages: self.code_pages, data_pages: self.data_pages }.encode().to_vec()
        }
    }
}

/// One running instance: its process and the two ends of its pipes.
struct Instance {
    pid: libc::pid_t,
    /// Writes invocation frames to its fd 0.
    input: File,
    /// Reads result frames from its fd 1.
    output: File,
}

/// Returns the last OS error as text, prefixed by what failed.
fn os_error(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// Makes a pipe whose ends are closed on exec; returns (read end, write end).
fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(os_error("pipe2"));
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// How an instance is started.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Start {
    /// fork, then execve in the child (the instances, and the spawn phase).
    ForkExec,
    /// posix_spawn (musl's: a CLONE_VM|CLONE_VFORK child that execs at once).
    PosixSpawn,
}

/// Starts `/bin/<file> <argument>` with pipes on fd 0 and fd 1 (fd 2 stays the console), and
/// waits until it blocks reading its first frame.
fn spawn(config: &Config, argument: u64, start: Start) -> Result<Instance, String> {
    use std::os::fd::AsRawFd;
    let path = CString::new(config.path()).map_err(|_| "bad file name".to_owned())?;
    let name = CString::new(config.file.clone()).map_err(|_| "bad file name".to_owned())?;
    let argument = CString::new(argument.to_string()).map_err(|_| "bad argument".to_owned())?;
    let argv = [name.as_ptr(), argument.as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null()];
    let (input_read, input_write) = pipe()?;
    let (output_read, output_write) = pipe()?;
    let pid = match start {
        Start::ForkExec => {
            // SAFETY: the child calls only async-signal-safe functions (dup2, execve, _exit) on
            // values prepared before the fork.
            let pid = unsafe { libc::fork() };
            if pid < 0 {
                return Err(os_error("fork"));
            }
            if pid == 0 {
                // SAFETY: in the child; the descriptors are open; argv and envp are
                // NULL-terminated arrays of C strings that live until execve replaces the process.
                unsafe {
                    if libc::dup2(input_read.as_raw_fd(), 0) < 0 || libc::dup2(output_write.as_raw_fd(), 1) < 0 {
                        libc::_exit(126);
                    }
                    libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr());
                    libc::_exit(127);
                }
            }
            pid
        }
        Start::PosixSpawn => {
            let mut pid = 0;
            // SAFETY: the file-actions object is initialised before use and destroyed after;
            // path, argv and envp are valid NULL-terminated C strings and arrays.
            let status = unsafe {
                let mut actions: libc::posix_spawn_file_actions_t = core::mem::zeroed();
                libc::posix_spawn_file_actions_init(&mut actions);
                libc::posix_spawn_file_actions_adddup2(&mut actions, input_read.as_raw_fd(), 0);
                libc::posix_spawn_file_actions_adddup2(&mut actions, output_write.as_raw_fd(), 1);
                let status = libc::posix_spawn(&mut pid, path.as_ptr(), &actions, std::ptr::null(), argv.as_ptr().cast(), envp.as_ptr().cast());
                libc::posix_spawn_file_actions_destroy(&mut actions);
                status
            };
            if status != 0 {
                return Err(format!("posix_spawn: {}", std::io::Error::from_raw_os_error(status)));
            }
            pid
        }
    };
    drop((input_read, output_write));
    let instance = Instance { pid, input: File::from(input_write), output: File::from(output_read) };
    wait_until_blocked(pid)?;
    Ok(instance)
}

/// Waits until process `pid` sleeps in a pipe read (its first frame); fails if it ended.
fn wait_until_blocked(pid: libc::pid_t) -> Result<(), String> {
    let stat_path = format!("/proc/{pid}/stat");
    let wchan_path = format!("/proc/{pid}/wchan");
    loop {
        let stat = std::fs::read_to_string(&stat_path).map_err(|error| format!("{stat_path}: {error}"))?;
        let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next()).unwrap_or('?');
        if state == 'Z' || state == 'X' {
            return Err(format!("{} ended before its first invocation", pid_name(pid)));
        }
        if state == 'S' {
            let wchan = std::fs::read_to_string(&wchan_path).unwrap_or_default();
            // Without kallsyms wchan reads "0": then a sleep is taken as the pipe read.
            if wchan == "pipe_read" || wchan == "0" || wchan.is_empty() {
                return Ok(());
            }
        }
        // Sleep rather than spin: the spawn phases count every instruction until the instance
        // blocks, and each look at /proc costs thousands; a 1 ms sleep (1 million instructions of
        // virtual time under --icount) lets a start finish between two looks.
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Returns `instance <pid>` for messages.
fn pid_name(pid: libc::pid_t) -> String {
    format!("instance (pid {pid})")
}

/// Sends one invocation to `instance` and reads its result.
fn invoke(instance: &mut Instance, payload: &[u8]) -> Result<u64, String> {
    let (frame, length) = abi::linux::invocation_frame(payload).ok_or("payload too long")?;
    instance.input.write_all(&frame[..length]).map_err(|error| format!("writing to {}: {error}", pid_name(instance.pid)))?;
    let mut result = [0u8; abi::linux::RESULT_FRAME_BYTES];
    instance.output.read_exact(&mut result).map_err(|error| format!("reading from {}: {error} (did it end?)", pid_name(instance.pid)))?;
    abi::linux::decode_result_frame(&result).map_err(|error| format!("{}: bad result frame: {error:?}", pid_name(instance.pid)))
}

/// Runs one round: an invocation for each instance, in order; `next_id` counts on.
fn round(config: &Config, instances: &mut [Instance], next_id: &mut u64) -> Result<(), String> {
    for instance in instances {
        let payload = config.payload(*next_id);
        *next_id += 1;
        invoke(instance, &payload)?;
    }
    Ok(())
}

/// `/proc/<pid>/pagemap` bits (Documentation/admin-guide/mm/pagemap.rst).
const PAGEMAP_PRESENT: u64 = 1 << 63;
/// The page is a file page or shared anonymous memory (in a private writable mapping: not yet
/// copied on write).
const PAGEMAP_FILE_OR_SHARED: u64 = 1 << 61;
/// The page is mapped exclusively (a private copy; the shared zero page is not).
const PAGEMAP_EXCLUSIVE: u64 = 1 << 56;

/// Makes every page `pid` has mapped present, and every page of its private writable mappings
/// its own copy, so that the measured rounds take no page fault: `/proc/<pid>/pagemap` says
/// which pages are not yet so, and one byte of each is read through `/proc/<pid>/mem` (and, in a
/// private writable mapping, written back unchanged, which copies the page as the instance's
/// own first write would).
fn populate(pid: libc::pid_t) -> Result<(), String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).map_err(|error| format!("/proc/{pid}/maps: {error}"))?;
    let memory = File::options().read(true).write(true).open(format!("/proc/{pid}/mem")).map_err(|error| format!("/proc/{pid}/mem: {error}"))?;
    let pagemap = File::open(format!("/proc/{pid}/pagemap")).map_err(|error| format!("/proc/{pid}/pagemap: {error}"))?;
    for line in maps.lines() {
        let mut words = line.split_whitespace();
        let (Some(range), Some(permissions)) = (words.next(), words.next()) else { continue };
        let name = line.split_whitespace().nth(5).unwrap_or("");
        if !permissions.starts_with('r') || name == "[vvar]" || name == "[vsyscall]" {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else { continue };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16)) else { continue };
        let write_back = permissions.as_bytes().get(1) == Some(&b'w') && permissions.as_bytes().get(3) == Some(&b'p');
        let pages = ((end - start) / PAGE_BYTES) as usize;
        let mut entries = vec![0u8; pages * 8];
        pagemap.read_exact_at(&mut entries, start / PAGE_BYTES * 8).map_err(|error| format!("reading {pid}'s pagemap at {start:#x}: {error}"))?;
        for (index, entry) in entries.as_chunks::<8>().0.iter().enumerate() {
            let entry = u64::from_le_bytes(*entry);
            let ready = entry & PAGEMAP_PRESENT != 0 && (!write_back || (entry & PAGEMAP_FILE_OR_SHARED == 0 && entry & PAGEMAP_EXCLUSIVE != 0));
            if ready {
                continue;
            }
            let address = start + index as u64 * PAGE_BYTES;
            let mut byte = [0u8; 1];
            memory.read_exact_at(&mut byte, address).map_err(|error| format!("reading {pid}'s memory at {address:#x}: {error}"))?;
            if write_back {
                memory.write_all_at(&byte, address).map_err(|error| format!("writing {pid}'s memory at {address:#x}: {error}"))?;
            }
        }
    }
    Ok(())
}

/// Returns a `/proc/meminfo` figure in kB.
fn meminfo(key: &str) -> Result<u64, String> {
    let text = std::fs::read_to_string("/proc/meminfo").map_err(|error| format!("/proc/meminfo: {error}"))?;
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':')?.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("/proc/meminfo has no {key}"))
}

/// Returns a number of `/proc/<pid>/status`: in kB for a size (`VmPTE`), a count otherwise
/// (`nonvoluntary_ctxt_switches`).
fn status_value(pid: libc::pid_t, key: &str) -> Result<u64, String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|error| format!("/proc/{pid}/status: {error}"))?;
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':')?.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("/proc/{pid}/status has no {key}"))
}

/// Returns a `/proc/<pid>/smaps_rollup` figure in kB (0 when the kernel has no such line).
fn rollup_kb(pid: libc::pid_t, key: &str) -> Result<u64, String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).map_err(|error| format!("/proc/{pid}/smaps_rollup: {error}"))?;
    Ok(text.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix(':')?.split_whitespace().next()?.parse().ok()).unwrap_or(0))
}

/// Mounts a tmpfs that backs its files with 2 MiB pages where it can at `HUGE_DIRECTORY` and
/// copies the workload there.
fn prepare_huge_copy(config: &Config) -> Result<(), String> {
    let _ = std::fs::create_dir_all(HUGE_DIRECTORY);
    let target = CString::new(HUGE_DIRECTORY).map_err(|_| "bad directory".to_owned())?;
    let (source, kind, options) = (c"tmpfs", c"tmpfs", c"huge=always");
    // SAFETY: the strings are NUL-terminated; the data argument is tmpfs's option string.
    if unsafe { libc::mount(source.as_ptr(), target.as_ptr(), kind.as_ptr(), 0, options.as_ptr().cast()) } != 0 {
        return Err(os_error("mounting the huge-page tmpfs"));
    }
    std::fs::copy(format!("/bin/{}", config.file), config.path()).map_err(|error| format!("copying /bin/{} to {}: {error}", config.file, config.path()))?;
    Ok(())
}

/// Returns the page faults (minor + major) `pid` has taken.
fn page_faults(pid: libc::pid_t) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|error| format!("/proc/{pid}/stat: {error}"))?;
    let fields: Vec<&str> = stat.rsplit_once(") ").map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    // After the command name: state (field 3) is index 0, minflt (field 10) index 7, majflt
    // (field 12) index 9.
    let field = |index: usize| fields.get(index).and_then(|value| value.parse::<u64>().ok()).ok_or_else(|| format!("/proc/{pid}/stat: no field {}", index + 3));
    Ok(field(7)? + field(9)?)
}

/// Returns the range the read-only mappings of the file at `path` span in `pid` (from the first
/// mapping of the file to the end of its last mapping without write permission).
fn binary_range(pid: libc::pid_t, path: &str) -> Option<(u64, u64)> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    let mut range: Option<(u64, u64)> = None;
    for line in maps.lines().filter(|line| line.split_whitespace().nth(5) == Some(path)) {
        let mut words = line.split_whitespace();
        let (start, end) = words.next()?.split_once('-')?;
        let (start, end) = (u64::from_str_radix(start, 16).ok()?, u64::from_str_radix(end, 16).ok()?);
        let writable = words.next()?.as_bytes().get(1) == Some(&b'w');
        range = match range {
            None => Some((start, end)),
            Some((first, _)) if !writable => Some((first, end)),
            keep => keep,
        };
    }
    range
}

/// Returns the engine QEMU presents, from the hypervisor CPUID leaf.
fn engine() -> &'static str {
    let features = core::arch::x86_64::__cpuid(1);
    if features.ecx & (1 << 31) == 0 {
        return "hardware";
    }
    // Leaf 0x4000_0000 is defined when the hypervisor bit is set.
    let leaf = core::arch::x86_64::__cpuid(0x4000_0000);
    let mut signature = [0u8; 12];
    signature[..4].copy_from_slice(&leaf.ebx.to_le_bytes());
    signature[4..8].copy_from_slice(&leaf.ecx.to_le_bytes());
    signature[8..].copy_from_slice(&leaf.edx.to_le_bytes());
    match &signature {
        b"TCGTCGTCGTCG" => "tcg",
        b"KVMKVMKVM\0\0\0" => "kvm",
        _ => "unknown",
    }
}

/// Reads the time-stamp counter.
fn tsc() -> u64 {
    // SAFETY: RDTSC is available on every x86-64 CPU and user mode may run it unless CR4.TSD is
    // set, which Linux does not do.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Returns the running kernel's release (`uname -r`).
fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|text| text.trim().to_owned()).unwrap_or_else(|_| "unknown".into())
}

/// Measures the configuration and returns its result line.
fn measure(config: &Config) -> Result<String, String> {
    let count = config.instances;
    let id = config.id;
    marker!(Command::Reset, 0u64);
    let free_before = meminfo("MemFree")?;
    let tables_before = meminfo("PageTables")?;
    let spawn_start = tsc();
    let mut instances = Vec::with_capacity(count);
    for index in 0..count {
        instances.push(spawn(config, config.argument(index), Start::ForkExec)?);
    }
    let spawn_cycles = (tsc() - spawn_start) / count as u64;
    let memfree_frames = free_before.saturating_sub(meminfo("MemFree")?) / (PAGE_BYTES / 1024);
    let meminfo_tables = meminfo("PageTables")?.saturating_sub(tables_before) / (PAGE_BYTES / 1024);
    // The instances' own memory: private anonymous pages (data, bss, heap, stack, and the
    // copies of written file pages), page tables, and the 16 KiB kernel stack of each task. The
    // binary's file pages are the page cache's, shared by every instance (the initramfs).
    let (mut tables, mut frames) = (0, 0);
    for instance in &instances {
        let pte = status_value(instance.pid, "VmPTE")? / (PAGE_BYTES / 1024);
        tables += pte;
        frames += status_value(instance.pid, "RssAnon")? / (PAGE_BYTES / 1024) + pte + KERNEL_STACK_PAGES;
    }
    // What the kernel mapped with 2 MiB pages (only the linux-thp baseline allows it).
    let (mut huge_file, mut huge_anon) = (0, 0);
    for instance in &instances {
        huge_file += rollup_kb(instance.pid, "FilePmdMapped")? + rollup_kb(instance.pid, "ShmemPmdMapped")?;
        huge_anon += rollup_kb(instance.pid, "AnonHugePages")?;
    }
    // Every instance maps the binary at the same address (norandmaps): that range is the
    // simulator's "window", so its walks are counted apart as the runtime's.
    let range = binary_range(instances[0].pid, &config.path());
    let same = instances.iter().all(|instance| binary_range(instance.pid, &config.path()) == range);
    match range {
        Some((start, end)) if same => {
            marker!(Command::WindowStart, start);
            marker!(Command::WindowEnd, end);
        }
        _ => eprintln!("linux-guest-init: the instances map /bin/{} at different addresses: no window attribution", config.file),
    }

    let rounds_of = |invocations: u64| invocations.div_ceil(count as u64).max(1);
    let (warmup_rounds, rounds) = (rounds_of(config.warmup), rounds_of(config.invocations));
    let mut next_id = 0;
    for _ in 0..warmup_rounds {
        round(config, &mut instances, &mut next_id)?;
    }
    for instance in &instances {
        populate(instance.pid)?;
    }
    let faults_before: u64 = instances.iter().map(|instance| page_faults(instance.pid)).sum::<Result<u64, String>>()?;
    let preemptions_before = preemptions(&instances)?;

    let name = format!("density-{}-linux-n{count}", config.file);
    marker!(Command::ZeroCounters, 0u64);
    begin_phase(id, &name);
    let start = tsc();
    for _ in 0..rounds {
        round(config, &mut instances, &mut next_id)?;
    }
    let cycles = tsc() - start;
    end_phase(id);
    let faults: u64 = instances.iter().map(|instance| page_faults(instance.pid)).sum::<Result<u64, String>>()? - faults_before;
    let instance_preemptions = preemptions(&instances)? - preemptions_before;

    // Spawn (fork + execve): one more instance, until it blocks reading its first frame.
    begin_phase(id + 3, &format!("{name}-spawn"));
    let mut shared = spawn(config, config.argument(count), Start::ForkExec)?;
    end_phase(id + 3);

    // Cold, shared-warm: that fresh instance's first invocation, the others' entries cached.
    begin_phase(id + 1, &format!("{name}-cold-shared"));
    invoke(&mut shared, &config.payload(next_id))?;
    next_id += 1;
    end_phase(id + 1);

    // Cold, flushed: another fresh instance's first invocation after the modelled TLBs were
    // emptied.
    // The other fresh instance starts by posix_spawn, in a phase of its own.
    begin_phase(id + 4, &format!("{name}-posix-spawn"));
    let mut flushed = spawn(config, config.argument(count + 1), Start::PosixSpawn)?;
    end_phase(id + 4);
    marker!(Command::FlushTlbs, 0u64);
    begin_phase(id + 2, &format!("{name}-cold-flushed"));
    invoke(&mut flushed, &config.payload(next_id))?;
    end_phase(id + 2);

    instances.push(shared);
    instances.push(flushed);
    shut_down(instances)?;
    let invocations = rounds * count as u64;
    Ok(format!(
        "result: density id={id} workload={} binary=linux-musl kernel={} guest_kernel={} global=0 share_tables=0 pcid=unavailable instances={count} warmup_invocations={} rounds={rounds} invocations={invocations} cycles_per_invocation={} cold_shared_id={} cold_flushed_id={} spawn_id={} posix_spawn_id={} engine={} pmu=unavailable page_table_pages={tables} page_table_pages_per_instance={} frames={frames} spawn_cycles={spawn_cycles} page_faults={faults} meminfo_page_table_pages={meminfo_tables} memfree_frames={memfree_frames} code_pages={} data_pages={} thp_file_kb={huge_file} thp_anon_kb={huge_anon} instance_preemptions={instance_preemptions}",
        config.workload,
        config.kernel,
        kernel_release(),
        warmup_rounds * count as u64,
        cycles / invocations.max(1),
        id + 1,
        id + 2,
        id + 3,
        id + 4,
        engine(),
        tables / count as u64,
        config.code_pages,
        config.data_pages,
    ))
}

/// Returns the instances' involuntary context switches so far (`nonvoluntary_ctxt_switches`).
fn preemptions(instances: &[Instance]) -> Result<u64, String> {
    instances.iter().map(|instance| status_value(instance.pid, "nonvoluntary_ctxt_switches")).sum()
}

/// Sends every instance the shut-down frame (length 0) and checks that each exits with 0.
fn shut_down(instances: Vec<Instance>) -> Result<(), String> {
    let mut pids = Vec::with_capacity(instances.len());
    for mut instance in instances {
        instance.input.write_all(&0u32.to_le_bytes()).map_err(|error| format!("shutting down {}: {error}", pid_name(instance.pid)))?;
        pids.push(instance.pid);
    }
    for pid in pids {
        let mut status = 0;
        // SAFETY: `status` is a valid place for waitpid to write; `pid` is our child.
        if unsafe { libc::waitpid(pid, &mut status, 0) } != pid {
            return Err(os_error("waitpid"));
        }
        if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
            return Err(format!("{} ended with wait status {status:#x}", pid_name(pid)));
        }
    }
    Ok(())
}

/// Ends the run: QEMU exits with 33 (`value` 0x10) or 35 (0x11). Powers off if the port cannot
/// be reached (not under QEMU).
fn exit_qemu(value: u8) -> ! {
    // SAFETY: ioperm only changes this process's I/O permission bitmap; init runs as root. The
    // OUT goes to QEMU's isa-debug-exit device, which ends the emulator.
    unsafe {
        if libc::ioperm(u64::from(EXIT_PORT), 4, 1) == 0 {
            core::arch::asm!("out dx, al", in("dx") EXIT_PORT, in("al") value, options(nomem, nostack, preserves_flags));
        }
        libc::sync();
        libc::reboot(libc::RB_POWER_OFF);
    }
    // PID 1 must not return; reboot only fails without CAP_SYS_BOOT.
    loop {
        std::thread::park();
    }
}

/// Mounts `/proc`, which the driver reads instance figures from.
fn mount_proc() -> Result<(), String> {
    let _ = std::fs::create_dir_all("/proc");
    let (source, target, kind) = (c"proc", c"/proc", c"proc");
    // SAFETY: the strings are NUL-terminated; no data argument.
    if unsafe { libc::mount(source.as_ptr(), target.as_ptr(), kind.as_ptr(), 0, std::ptr::null()) } != 0 {
        return Err(os_error("mounting /proc"));
    }
    Ok(())
}

fn main() {
    let outcome = (|| -> Result<String, String> {
        mount_proc()?;
        // Two pipe ends per instance: raise the descriptor limit (1024 by default) to what the
        // kernel allows (fs.nr_open, 1048576 by default).
        let limit = libc::rlimit { rlim_cur: 1 << 20, rlim_max: 1 << 20 };
        // SAFETY: `limit` is a valid rlimit for setrlimit to read.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(os_error("raising RLIMIT_NOFILE"));
        }
        // The driver's own pages stay present: no page fault of its own in a measured phase.
        // SAFETY: mlockall has no memory-safety preconditions.
        if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } != 0 {
            return Err(os_error("mlockall"));
        }
        let config = Config::parse(std::env::args().skip(1))?;
        if config.batch {
            // SAFETY: sched_param is plain integers (musl's has reserved fields besides the
            // priority), all valid as zero; SCHED_BATCH takes priority 0.
            let parameter: libc::sched_param = unsafe { core::mem::zeroed() };
            // musl's sched_setscheduler always fails with ENOSYS (Linux's call sets a thread's
            // policy, not a process's, as POSIX asks), so the system call is made directly.
            // SAFETY: the call reads `parameter`, a valid sched_param, and nothing else.
            let status = unsafe { libc::syscall(libc::SYS_sched_setscheduler, 0, libc::SCHED_BATCH | libc::SCHED_RESET_ON_FORK, &parameter) };
            if status != 0 {
                return Err(os_error("sched_setscheduler(SCHED_BATCH | SCHED_RESET_ON_FORK)"));
            }
        }
        // The simulator counts the walks made while this process's page tables are loaded
        // apart (`walks.driver`): the driver's share of Linux's walks.
        marker!(Command::DriverSpace, 0u64);
        if config.thp {
            prepare_huge_copy(&config)?;
        }
        measure(&config)
    })();
    match outcome {
        Ok(line) => {
            println!("{line}");
            exit_qemu(EXIT_SUCCESS)
        }
        Err(message) => {
            println!("linux-guest-init: {message}");
            exit_qemu(EXIT_FAILURE)
        }
    }
}
