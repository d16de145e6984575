//! The process table, the round-robin run queue, and every process state change.
//!
//! The scheduler runs on the boot stack ([`run`]): it takes the process at the head of the run
//! queue, activates its address space (with its PCID when the `pcid` mode is on), points RSP0 and
//! the system-call stack at its kernel stack, restores its FPU state and switches to it. The
//! process comes back to the scheduler when it yields, is preempted by the timer after its
//! quantum, blocks in `wait`, or ends; the scheduler then saves its FPU state and requeues,
//! parks or reaps it. Reaping happens here, on the boot stack, after switching to the kernel's
//! page tables, so a process never frees the stack or tables it is running on (the xv6 pattern).
//!
//! Everything here runs with interrupts disabled (system calls enter with IF clear, the timer
//! handler runs with IF clear, and [`run`] enables interrupts only while it halts), on one CPU,
//! so the table's lock is never contended; it is never held across a context switch.

#![deny(unsafe_code)]

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use abi::{EndReason, ErrorCode, ExitStatus};
use sched_queue::RunQueue;
use spin::Mutex;
use x86_64::VirtAddr;

use super::spawn::{self, SpawnError};
use super::{Finished, Personality, ProcessStats, SLOT_BITS, slot_of};
use crate::syscall::linux;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use x86_64::registers::model_specific::FsBase;
use crate::arch::x86_64::context::{self, SCHEDULER_CONTEXT, UserEntry};
use crate::arch::x86_64::{gdt, interrupts, pkru, syscall_entry};
use crate::mm::address_space::{Access, AddressSpace};
use crate::mm::layout::{self, PAGE_BYTES, USER_HEAP_MAX_BYTES, USER_HEAP_START};
use crate::mm::paging::{self, user::KernelStack};
use crate::time;

/// Where a process is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// In the run queue.
    Runnable,
    /// On the CPU.
    Running,
    /// Waiting in `wait` for the child with this pid.
    WaitingFor(u64),
    /// A function instance waiting in `invoke_wait` for its next invocation.
    WaitingForInvocation,
    /// Ended; kept until its parent collects the status.
    Zombie,
}

/// One process-table entry.
struct Process {
    pid: u64,
    name: &'static str,
    parent: Option<u64>,
    /// It has started a child at some point: only then does its end scan the table for children
    /// to orphan (a scan per exit would make N exits cost N × table slots).
    had_children: bool,
    state: State,
    space: Option<AddressSpace>,
    /// Its kernel stack, which also holds its saved FPU/SSE state.
    kernel_stack: Option<KernelStack>,
    heap_end: u64,
    /// A function instance started by the kernel's driver: only these may wait for invocations.
    instance: bool,
    status: ExitStatus,
    stats: ProcessStats,
    /// An invocation delivered by the driver and not yet taken by `invoke_wait`.
    pending: Option<Invocation>,
    /// The id of the invocation the instance is running.
    running_invocation: Option<u64>,
    /// Protection-key rights, written to PKRU when the process is switched to.
    pkru: u32,
    /// Which system-call interface it runs against.
    personality: Personality,
    /// Its FS base (the thread pointer a Linux process sets with `arch_prctl`), loaded when it
    /// is switched to; 0 for native processes.
    fs_base: u64,
    /// A Linux process's state: descriptors, break, signals, frame buffers.
    linux: Option<Box<linux::State>>,
}

/// The running process is a Linux one: the system-call entry reads this (one load) to choose
/// the personality, instead of looking the process up.
static RUNNING_LINUX: AtomicBool = AtomicBool::new(false);
/// The FS base the CPU holds, so that a switch writes the MSR only when it changes (never, in a
/// run of native processes only).
static LOADED_FS_BASE: AtomicU64 = AtomicU64::new(0);

/// Returns the personality of the running process (native when none runs).
pub fn running_personality() -> Personality {
    if RUNNING_LINUX.load(Ordering::Relaxed) { Personality::Linux } else { Personality::Native }
}

/// Loads `base` into the CPU's FS base unless it holds it already.
fn load_fs_base(base: u64) {
    if LOADED_FS_BASE.load(Ordering::Relaxed) != base {
        // `base` is canonical: `arch_prctl` accepts only user addresses, and 0 is the default.
        FsBase::write(VirtAddr::new_truncate(base));
        LOADED_FS_BASE.store(base, Ordering::Relaxed);
    }
}

/// Sets the running process's FS base and loads it (`arch_prctl(ARCH_SET_FS)`).
pub fn set_fs_base(base: u64) {
    with(|scheduler| {
        if let Some(process) = scheduler.current_process() {
            process.fs_base = base;
            load_fs_base(base);
        }
    });
}

/// The running Linux process, as its system calls see it (the scheduler lock is held).
pub struct LinuxProcess<'a> {
    /// Whether it is a FaaS instance started by the kernel's driver.
    pub instance: bool,
    /// Whether the driver has delivered an invocation it has not taken yet.
    pub has_pending_invocation: bool,
    /// Its Linux state.
    pub state: &'a mut linux::State,
    /// Its address space.
    pub space: &'a mut AddressSpace,
    /// Its FS base.
    pub fs_base: &'a mut u64,
}

/// Runs `operation` on the running process when it is a Linux one; `None` otherwise.
pub fn with_current_linux<R>(operation: impl FnOnce(&mut LinuxProcess<'_>) -> R) -> Option<R> {
    with(|scheduler| {
        let process = scheduler.current_process()?;
        let state = process.linux.as_deref_mut()?;
        let space = process.space.as_mut()?;
        Some(operation(&mut LinuxProcess {
            instance: process.instance,
            has_pending_invocation: process.pending.is_some(),
            state,
            space,
            fs_base: &mut process.fs_base,
        }))
    })
}

/// One invocation of a function instance.
#[derive(Clone, Copy, Debug)]
pub struct Invocation {
    /// Its id, chosen by the driver.
    pub id: u64,
    /// Payload bytes (the first `length` count).
    pub payload: [u8; abi::PAYLOAD_MAX_BYTES as usize],
    /// Payload length; 0 tells the instance to shut down.
    pub length: usize,
}

/// The result an instance reported for an invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvocationResult {
    /// The instance.
    pub pid: u64,
    /// The invocation.
    pub id: u64,
    /// What `invoke_done` reported.
    pub result: u64,
}

/// The scheduler's state.
struct Scheduler {
    /// The process table: one entry per slot, boxed on the (growing) kernel heap so that a
    /// free slot costs 8 bytes. Its length is fixed at boot (`layout::process_slots`).
    table: Vec<Option<Box<Process>>>,
    free_slots: Vec<u32>,
    queue: RunQueue<'static>,
    current: Option<usize>,
    sequence: u64,
    /// Processes that have not ended.
    alive: usize,
    quantum_ticks: u64,
    ticks_in_quantum: u64,
    /// Processes without a parent that ended, for the kernel code that started them (at most
    /// [`FINISHED_RECORDS_MAX`]; the rest are only counted in `finished_unrecorded`).
    orphans_finished: Vec<Finished>,
    /// Processes that ended without a parent while `orphans_finished` was full.
    finished_unrecorded: u64,
    switches: u64,
    invocation_results: Vec<InvocationResult>,
}

static SCHEDULER: Mutex<Option<Scheduler>> = Mutex::new(None);

/// Records of ended parentless processes kept for the kernel code that started them; allocated
/// once at boot, so that processes which spawn children and exit without waiting (orphans) can
/// never grow the kernel heap. Past this many uncollected records, endings are only counted.
pub const FINISHED_RECORDS_MAX: usize = 16_384;

/// Sets up an empty process table.
pub fn init(quantum_ticks: u32, process_slots: u64) {
    let capacity = process_slots.min(layout::MAX_PROCESSES) as usize;
    context::init(capacity);
    let next = Box::leak(vec![0u32; capacity].into_boxed_slice());
    let previous = Box::leak(vec![0u32; capacity].into_boxed_slice());
    let queue = RunQueue::new(next, previous).expect("run-queue storage of equal lengths");
    let mut table = Vec::with_capacity(capacity);
    table.resize_with(capacity, || None);
    *SCHEDULER.lock() = Some(Scheduler {
        table,
        free_slots: (0..capacity as u32).rev().collect(),
        queue,
        current: None,
        sequence: 0,
        alive: 0,
        quantum_ticks: u64::from(quantum_ticks.max(1)),
        ticks_in_quantum: 0,
        orphans_finished: Vec::with_capacity(FINISHED_RECORDS_MAX),
        finished_unrecorded: 0,
        switches: 0,
        invocation_results: Vec::new(),
    });
}

/// Runs `operation` on the scheduler state.
fn with<R>(operation: impl FnOnce(&mut Scheduler) -> R) -> R {
    interrupts::without_interrupts(|| {
        let mut guard = SCHEDULER.lock();
        operation(guard.as_mut().expect("scheduler::init runs at boot"))
    })
}

/// Starts a process of the ramdisk binary `name` with `argument`; `parent` is the pid of the
/// process that asked, `None` for the kernel.
///
/// # Errors
/// Returns a [`SpawnError`]; nothing is left allocated then.
pub fn spawn(name: &str, argument: u64, parent: Option<u64>) -> Result<u64, SpawnError> {
    start(name, argument, parent, false)
}

/// Starts a function instance of `name` for the kernel's FaaS driver: a parentless process that
/// may wait for invocations (`invoke_wait`).
///
/// # Errors
/// As [`spawn`].
pub fn spawn_instance(name: &str, argument: u64) -> Result<u64, SpawnError> {
    start(name, argument, None, true)
}

/// Starts a process; `instance` marks a driver-managed function instance.
fn start(name: &str, argument: u64, parent: Option<u64>, instance: bool) -> Result<u64, SpawnError> {
    let (name, _) = crate::ramdisk::find(name).ok_or(SpawnError::NotFound)?;
    // A binary not loaded yet is loaded now and linked into every live address space.
    super::registry::ensure_loaded(name)?;
    let slot = with(|scheduler| scheduler.free_slots.pop()).ok_or(SpawnError::TooManyProcesses)?;
    let give_back = |slot: u32| with(|scheduler| scheduler.free_slots.push(slot));
    let prepared = match spawn::prepare(name, argument) {
        Ok(prepared) => prepared,
        Err(error) => {
            give_back(slot);
            return Err(error);
        }
    };
    let stack = match KernelStack::new(u64::from(slot) + 1) {
        Ok(stack) => stack,
        Err(error) => {
            give_back(slot);
            return Err(SpawnError::OutOfMemory(error));
        }
    };
    let entry = UserEntry {
        instruction_pointer: prepared.entry,
        stack_pointer: prepared.stack_pointer,
        argument: prepared.entry_argument,
    };
    let space = prepared.space;
    let pkru = prepared.pkru;
    let (personality, linux) = (prepared.personality, prepared.linux);
    // The entry lives on the kernel heap, which grows from the frame allocator; when that fails
    // too, the spawn is refused like any other lack of memory.
    let Ok(mut process) = Box::try_new(Process {
        pid: 0,
        name,
        parent,
        had_children: false,
        state: State::Runnable,
        space: Some(space),
        kernel_stack: Some(stack),
        heap_end: USER_HEAP_START,
        instance,
        status: ExitStatus::default(),
        stats: ProcessStats::default(),
        pending: None,
        running_invocation: None,
        pkru,
        personality,
        fs_base: 0,
        linux,
    }) else {
        give_back(slot);
        return Err(SpawnError::OutOfMemory(crate::mm::paging::MapError::OutOfFrames));
    };
    Ok(with(|scheduler| {
        scheduler.sequence += 1;
        let pid = (scheduler.sequence << SLOT_BITS) | u64::from(slot);
        process.pid = pid;
        if let Some(parent) = parent
            && let Some(parent_process) = scheduler.table[slot_of(parent)].as_deref_mut().filter(|p| p.pid == parent)
        {
            parent_process.had_children = true;
        }
        context::prepare_first_entry(slot as usize, process.kernel_stack.as_ref().expect("just set"), entry);
        scheduler.table[slot as usize] = Some(process);
        scheduler.alive += 1;
        // The slot was free, so it is not queued: this cannot fail.
        let _ = scheduler.queue.push_back(slot);
        pid
    }))
}

/// Runs processes until none is alive; returns how many context switches it made.
///
/// Called from the kernel's main path on the boot stack (the scheduler's context).
pub fn run() -> u64 {
    run_until(false)
}

/// Runs processes until none is runnable (the rest wait, for example for invocations); returns
/// how many context switches it made in all so far.
pub fn run_until_quiet() -> u64 {
    run_until(true)
}

/// The scheduler loop; with `stop_when_quiet` it returns as soon as the run queue is empty.
fn run_until(stop_when_quiet: bool) -> u64 {
    loop {
        interrupts::disable();
        let next = with(|scheduler| {
            let slot = scheduler.queue.pop_front()? as usize;
            let process = scheduler.table[slot].as_mut()?;
            process.state = State::Running;
            process.stats.runs += 1;
            if process.stats.first_run_tick.is_none() {
                process.stats.first_run_tick = Some(time::ticks());
            }
            if let Some(space) = process.space.as_mut() {
                space.activate();
            }
            if let Some(stack) = process.kernel_stack.as_mut() {
                gdt::set_kernel_stack(stack.top());
                syscall_entry::set_kernel_stack(stack.top());
                stack.fpu().restore();
            }
            if crate::boot_facts().enabled.pke {
                pkru::write(process.pkru);
            }
            RUNNING_LINUX.store(process.personality == Personality::Linux, Ordering::Relaxed);
            load_fs_base(process.fs_base);
            scheduler.current = Some(slot);
            scheduler.ticks_in_quantum = 0;
            scheduler.switches += 1;
            Some(slot)
        });
        match next {
            Some(slot) => {
                context::switch(SCHEDULER_CONTEXT, slot);
                with(|scheduler| scheduler.after_run(slot));
                // A process that yielded to have a binary loaded gets it here, on this stack.
                super::registry::serve_pending();
            }
            None => {
                if stop_when_quiet || with(|scheduler| scheduler.alive) == 0 {
                    return with(|scheduler| scheduler.switches);
                }
                // Nothing runnable, yet processes are alive, and nothing but a running process
                // or the driver (which is not running: this loop is) can wake one: no process
                // waits for time. So none can ever run again; say which and end the run rather
                // than idle forever. (A timed wait, if one is added, must be checked here.)
                report_stuck();
            }
        }
    }
}

/// Prints every blocked process and what it waits for, then ends the run with failure.
fn report_stuck() -> ! {
    let blocked = with(|scheduler| {
        let mut blocked = 0;
        for process in scheduler.table.iter().flatten().filter(|process| process.state != State::Zombie) {
            crate::println!("scheduler: process {} ({}) is blocked: {}", process.pid, process.name, process.state);
            blocked += 1;
        }
        blocked
    });
    crate::println!("scheduler: {blocked} processes are alive and none can ever run again");
    crate::shutdown::failure("no process can run again")
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Runnable => write!(f, "runnable"),
            State::Running => write!(f, "running"),
            State::WaitingFor(pid) => write!(f, "waits for child {pid}"),
            State::WaitingForInvocation => write!(f, "waits for an invocation that no driver will send"),
            State::Zombie => write!(f, "ended"),
        }
    }
}

impl Scheduler {
    /// Handles a process that just came back to the scheduler.
    fn after_run(&mut self, slot: usize) {
        self.current = None;
        let Some(process) = self.table[slot].as_mut() else { return };
        if let Some(stack) = process.kernel_stack.as_mut() {
            stack.fpu().save();
        }
        match process.state {
            State::Running => {
                process.state = State::Runnable;
                let _ = self.queue.push_back(slot as u32);
            }
            State::Runnable | State::WaitingFor(_) | State::WaitingForInvocation => {}
            State::Zombie => self.reap_resources(slot),
        }
    }

    /// Frees an ended process's memory, and its table entry too when no parent will collect it.
    fn reap_resources(&mut self, slot: usize) {
        let Some(process) = self.table[slot].as_mut() else { return };
        if process.space.as_ref().is_some_and(AddressSpace::is_active) {
            paging::activate_kernel_space();
        }
        context::clear(slot);
        process.space = None;
        process.linux = None;
        if let Some((used, deepest)) = process.kernel_stack.as_mut().and_then(KernelStack::measure)
            && deepest
        {
            crate::println!("kstack_probe: process {} ({}) used {used} bytes of its kernel stack, the most so far", process.pid, process.name);
        }
        process.kernel_stack = None;
        let parent_alive = process.parent.is_some_and(|parent| self.lookup(parent).is_some_and(|p| p.state != State::Zombie));
        if !parent_alive {
            self.release_slot(slot);
        }
    }

    /// Removes a reaped entry: records it for the kernel when it has no parent, frees the slot.
    fn release_slot(&mut self, slot: usize) {
        if let Some(process) = self.table[slot].take() {
            let finished = Finished { pid: process.pid, name: process.name, status: process.status, stats: process.stats };
            let parent_alive = process.parent.is_some_and(|parent| self.lookup(parent).is_some());
            if !parent_alive {
                // The capacity was reserved at boot: a push below it never allocates.
                if self.orphans_finished.len() < FINISHED_RECORDS_MAX {
                    self.orphans_finished.push(finished);
                } else {
                    self.finished_unrecorded += 1;
                }
            }
            self.free_slots.push(slot as u32);
        }
    }

    /// Returns the live or zombie process with `pid`.
    fn lookup(&self, pid: u64) -> Option<&Process> {
        self.table.get(slot_of(pid))?.as_deref().filter(|process| process.pid == pid)
    }

    /// Returns the running process.
    fn current_process(&mut self) -> Option<&mut Process> {
        let slot = self.current?;
        self.table[slot].as_deref_mut()
    }
}

/// Parks the running process with `state` and switches to the scheduler; returns when the
/// process runs again (never, for a zombie).
fn switch_to_scheduler(state: State) {
    let slot = with(|scheduler| {
        let slot = scheduler.current?;
        if let Some(process) = scheduler.table[slot].as_mut() {
            process.state = state;
        }
        Some(slot)
    });
    if let Some(slot) = slot {
        interrupts::disable();
        context::switch(slot, SCHEDULER_CONTEXT);
    }
}

/// Gives the CPU to the next process (the `yield` system call).
pub fn yield_current() {
    switch_to_scheduler(State::Running);
}

/// Counts a timer tick; preempts the running process when it interrupted user mode and its
/// quantum is used up.
pub fn on_timer_tick(interrupted_user_mode: bool) {
    if !interrupted_user_mode {
        return;
    }
    let preempt = with(|scheduler| {
        if scheduler.current.is_none() {
            return false;
        }
        scheduler.ticks_in_quantum += 1;
        if scheduler.ticks_in_quantum < scheduler.quantum_ticks {
            return false;
        }
        if let Some(process) = scheduler.current_process() {
            process.stats.preemptions += 1;
        }
        true
    });
    if preempt {
        switch_to_scheduler(State::Running);
    }
}

/// Ends the running process with `reason` and `code`. Never returns.
pub fn exit_current(reason: EndReason, code: u64) -> ! {
    with(|scheduler| {
        let Some(slot) = scheduler.current else { return };
        let Some(process) = scheduler.table[slot].as_mut() else { return };
        process.status = ExitStatus { reason: reason as u64, code };
        process.stats.end_tick = time::ticks();
        let pid = process.pid;
        let parent = process.parent;
        let had_children = process.had_children;
        scheduler.alive -= 1;
        // Wake the parent if it waits for this process.
        if let Some(parent) = parent {
            let parent_slot = slot_of(parent);
            if let Some(parent_process) = scheduler.table[parent_slot].as_mut().filter(|p| p.pid == parent)
                && parent_process.state == State::WaitingFor(pid)
            {
                parent_process.state = State::Runnable;
                let _ = scheduler.queue.push_back(parent_slot as u32);
            }
        }
        // Children of this process lose their parent: the kernel collects them.
        if !had_children {
            return;
        }
        for index in 0..scheduler.table.len() {
            let orphaned_zombie = match scheduler.table[index].as_mut() {
                Some(child) if child.parent == Some(pid) => {
                    child.parent = None;
                    child.state == State::Zombie && child.space.is_none()
                }
                _ => false,
            };
            if orphaned_zombie {
                scheduler.release_slot(index);
            }
        }
    });
    switch_to_scheduler(State::Zombie);
    unreachable!("a zombie process was switched to");
}

/// Returns the running process's pid.
pub fn current_pid() -> Option<u64> {
    with(|scheduler| scheduler.current_process().map(|process| process.pid))
}

/// Returns the running process's pid and binary name.
pub fn current_identity() -> Option<(u64, &'static str)> {
    with(|scheduler| scheduler.current_process().map(|process| (process.pid, process.name)))
}

/// Runs `operation` on the running process's address space.
///
/// # Errors
/// Returns [`ErrorCode::InvalidArgument`] when no process is running (a kernel path called it).
pub fn with_current_space<R>(operation: impl FnOnce(&mut AddressSpace) -> R) -> Result<R, ErrorCode> {
    with(|scheduler| {
        let process = scheduler.current_process().ok_or(ErrorCode::InvalidArgument)?;
        let space = process.space.as_mut().ok_or(ErrorCode::InvalidArgument)?;
        Ok(operation(space))
    })
}

/// Grows the running process's heap by `bytes` (a multiple of the page size); returns the
/// address of the new memory.
///
/// # Errors
/// Returns [`ErrorCode::LimitReached`] past the heap limit, [`ErrorCode::OutOfMemory`].
pub fn grow_heap(bytes: u64) -> Result<u64, ErrorCode> {
    with(|scheduler| {
        let process = scheduler.current_process().ok_or(ErrorCode::InvalidArgument)?;
        let start = process.heap_end;
        let end = start.checked_add(bytes).ok_or(ErrorCode::LimitReached)?;
        if end > USER_HEAP_START + USER_HEAP_MAX_BYTES {
            return Err(ErrorCode::LimitReached);
        }
        let space = process.space.as_mut().ok_or(ErrorCode::InvalidArgument)?;
        debug_assert!(bytes.is_multiple_of(PAGE_BYTES));
        space.map_zeroed(VirtAddr::new(start), bytes, Access::DATA).map_err(|_| ErrorCode::OutOfMemory)?;
        process.heap_end = end;
        Ok(start)
    })
}

/// Waits until child `pid` of the running process has ended and returns its status.
///
/// # Errors
/// Returns [`ErrorCode::NoSuchChild`] when `pid` is not a child of the caller.
pub fn wait_for_child(pid: u64) -> Result<ExitStatus, ErrorCode> {
    loop {
        let outcome = with(|scheduler| {
            let me = scheduler.current_process().ok_or(ErrorCode::InvalidArgument)?.pid;
            let child = scheduler.lookup(pid).filter(|child| child.parent == Some(me)).ok_or(ErrorCode::NoSuchChild)?;
            if child.state == State::Zombie {
                let status = child.status;
                let slot = slot_of(pid);
                if child.space.is_none() {
                    // Reaped already: drop the entry.
                    if let Some(entry) = scheduler.table[slot].take() {
                        drop(entry);
                        scheduler.free_slots.push(slot as u32);
                    }
                } else if let Some(entry) = scheduler.table[slot].as_mut() {
                    // Not reaped yet (it ended a moment ago): forget the parent so the
                    // scheduler frees it without reporting it to the kernel.
                    entry.parent = None;
                    entry.status = status;
                }
                Ok(Some(status))
            } else {
                Ok(None)
            }
        })?;
        match outcome {
            Some(status) => return Ok(status),
            None => switch_to_scheduler(State::WaitingFor(pid)),
        }
    }
}

/// Calls `visit(pid, binary, space)` for every process that still has its address space.
pub fn for_each_space(mut visit: impl FnMut(u64, &'static str, &AddressSpace)) {
    with(|scheduler| {
        for process in scheduler.table.iter().flatten() {
            if let Some(space) = process.space.as_ref() {
                visit(process.pid, process.name, space);
            }
        }
    });
}

/// Runs `operation` with the scheduler lock held (no process runs, starts or ends meanwhile),
/// giving it every live address space: a live change of the global segment
/// (`process::registry`) loads and patches every space within one such call.
pub(super) fn with_live_spaces<R>(operation: impl FnOnce(&mut LiveSpaces<'_>) -> R) -> R {
    with(|scheduler| operation(&mut LiveSpaces { scheduler }))
}

/// Every address space in the process table, while the scheduler lock is held.
pub(super) struct LiveSpaces<'a> {
    scheduler: &'a mut Scheduler,
}

impl LiveSpaces<'_> {
    /// Calls `visit` on each address space in table order until it returns `false`; returns how
    /// many it visited (the one that returned `false` included).
    pub(super) fn for_each(&mut self, visit: &mut dyn FnMut(&mut AddressSpace) -> bool) -> usize {
        let mut visited = 0;
        for space in self.scheduler.table.iter_mut().flatten().filter_map(|process| process.space.as_mut()) {
            visited += 1;
            if !visit(space) {
                break;
            }
        }
        visited
    }
}

/// Returns (and forgets) every process without a parent that ended so far. If more ended than
/// [`FINISHED_RECORDS_MAX`] while nobody collected them, the rest were only counted: says so.
pub fn take_finished() -> Vec<Finished> {
    let (records, unrecorded) = with(|scheduler| {
        // Drain rather than take: the list keeps its boot-time capacity, so recording never
        // allocates; the copy is the kernel caller's allocation.
        #[allow(clippy::drain_collect, reason = "taking the vector would give up its boot-time capacity")]
        let records: Vec<Finished> = scheduler.orphans_finished.drain(..).collect();
        (records, core::mem::take(&mut scheduler.finished_unrecorded))
    });
    if unrecorded > 0 {
        crate::warn!("scheduler: {unrecorded} more processes ended while {FINISHED_RECORDS_MAX} records waited to be collected; only counted");
    }
    records
}

/// Hands `invocation` to instance `pid`; it runs when the scheduler next runs.
///
/// # Errors
/// Returns [`ErrorCode::NoSuchChild`] when `pid` is not a live process, and
/// [`ErrorCode::LimitReached`] when it still has an undelivered invocation.
pub fn deliver(pid: u64, invocation: Invocation) -> Result<(), ErrorCode> {
    with(|scheduler| {
        let slot = slot_of(pid);
        let process = scheduler.table[slot].as_mut().filter(|process| process.pid == pid && process.state != State::Zombie).ok_or(ErrorCode::NoSuchChild)?;
        if process.pending.is_some() {
            return Err(ErrorCode::LimitReached);
        }
        process.pending = Some(invocation);
        if process.state == State::WaitingForInvocation {
            process.state = State::Runnable;
            let _ = scheduler.queue.push_back(slot as u32);
        }
        Ok(())
    })
}

/// Returns `Ok` when the running process is a driver-managed function instance.
///
/// # Errors
/// Returns [`ErrorCode::NotAnInstance`] otherwise: nothing would ever deliver to it.
pub fn require_instance() -> Result<(), ErrorCode> {
    with(|scheduler| match scheduler.current_process() {
        Some(process) if process.instance => Ok(()),
        _ => Err(ErrorCode::NotAnInstance),
    })
}

/// Takes the running instance's next invocation, blocking until the driver delivers one. The
/// caller has already checked that `capacity` bytes at the user buffer are writable.
///
/// # Errors
/// Returns [`ErrorCode::NotAnInstance`] for a process the driver did not start (it would wait
/// forever), [`ErrorCode::TooLarge`] (and keeps the invocation) when the payload exceeds
/// `capacity`.
pub fn take_invocation(capacity: usize) -> Result<Invocation, ErrorCode> {
    require_instance()?;
    loop {
        let taken = with(|scheduler| {
            let process = scheduler.current_process().ok_or(ErrorCode::InvalidArgument)?;
            match process.pending {
                Some(invocation) if invocation.length > capacity => Err(ErrorCode::TooLarge),
                Some(invocation) => {
                    process.pending = None;
                    process.running_invocation = Some(invocation.id);
                    Ok(Some(invocation))
                }
                None => Ok(None),
            }
        })?;
        match taken {
            Some(invocation) => return Ok(invocation),
            None => switch_to_scheduler(State::WaitingForInvocation),
        }
    }
}

/// Records the running instance's result for its current invocation.
///
/// # Errors
/// Returns [`ErrorCode::NotAnInstance`] for a process the driver did not start and
/// [`ErrorCode::InvalidArgument`] when no invocation is in progress.
pub fn finish_invocation(result: u64) -> Result<(), ErrorCode> {
    require_instance()?;
    with(|scheduler| {
        let process = scheduler.current_process().ok_or(ErrorCode::InvalidArgument)?;
        let id = process.running_invocation.take().ok_or(ErrorCode::InvalidArgument)?;
        let pid = process.pid;
        scheduler.invocation_results.push(InvocationResult { pid, id, result });
        Ok(())
    })
}

/// Returns (and forgets) every invocation result reported so far.
pub fn take_invocation_results() -> Vec<InvocationResult> {
    with(|scheduler| core::mem::take(&mut scheduler.invocation_results))
}
