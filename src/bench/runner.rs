//! Runs the units of a study as parallel QEMU boots, with progress, an ETA, and a clean stop.
//!
//! [`run_units`] keeps up to `jobs` `qemu-runner.sh` processes going. Each runner is started in
//! its own process group, so a terminal's Ctrl-C does not reach it behind the scheduler's back;
//! on SIGINT or SIGTERM (or when a unit fails) the scheduler stops starting units and sends
//! SIGTERM to every running runner's group. The runner passes the signal on to QEMU and removes
//! its guest-RAM file in `/dev/shm` as it exits (`qemu-runner.sh`). A second SIGINT ends
//! `shoal bench` at once.
//!
//! Before anything starts, [`check_shared_memory`] makes sure `/dev/shm` has room for the
//! guest-RAM files of the boots that run at once ([`shared_memory_shortfall`] is the arithmetic).
//!
//! Results do not depend on the order in which units finish: each unit writes its own files
//! (named by [`super::unit::Unit::name`]), and the caller reads them back in unit order.

use std::collections::{BTreeMap, VecDeque};
use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

/// Where QEMU's guest RAM lives while the tlbsim plugin reads it (`qemu-runner.sh`).
pub(crate) const SHARED_MEMORY: &str = "/dev/shm";

/// Bytes in a MiB.
const MIB_BYTES: u64 = 1 << 20;

/// How often the scheduler looks at the signal flags while boots run.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Returns the bytes missing in `/dev/shm` for `boots` guest-RAM files of `memory_mib` MiB
/// each, given `available_bytes` free there; `None` when they fit.
pub(crate) fn shared_memory_shortfall(available_bytes: u64, boots: usize, memory_mib: u32) -> Option<u64> {
    let needed = (boots as u64).saturating_mul(u64::from(memory_mib)).saturating_mul(MIB_BYTES);
    needed.checked_sub(available_bytes).filter(|&missing| missing > 0)
}

/// Checks that `/dev/shm` has room for `boots` guest-RAM files of `memory_mib` MiB.
///
/// # Errors
/// Returns a message naming the sizes: what is free, what the boots need, and how to need less.
pub(crate) fn check_shared_memory(boots: usize, memory_mib: u32) -> Result<(), String> {
    if boots == 0 {
        return Ok(());
    }
    let stat = rustix::fs::statvfs(SHARED_MEMORY).map_err(|error| format!("reading the free space of {SHARED_MEMORY}: {error}"))?;
    let available_bytes = stat.f_bavail.saturating_mul(stat.f_frsize);
    match shared_memory_shortfall(available_bytes, boots, memory_mib) {
        None => Ok(()),
        Some(_) => Err(format!(
            "{SHARED_MEMORY} has {} MiB free, but {boots} parallel boots under tlbsim need {} MiB ({boots} x --memory {memory_mib}): \
             lower --jobs or --memory, or enlarge {SHARED_MEMORY}",
            available_bytes / MIB_BYTES,
            boots as u64 * u64::from(memory_mib)
        )),
    }
}

/// One boot to run.
pub(crate) struct Boot {
    /// What the progress lines call it.
    pub(crate) label: String,
    /// The runner command, ready to spawn (its stdout is captured, its stderr goes to `log`).
    pub(crate) command: Command,
    /// Where the runner's stderr goes (QEMU's command line, the runner's verdict).
    pub(crate) log: std::path::PathBuf,
    /// Where the runner's stdout (the kernel's serial console) is written as soon as the boot
    /// ends, whether it succeeded or not.
    pub(crate) serial: std::path::PathBuf,
}

/// What one finished boot printed.
#[derive(Debug)]
pub(crate) struct Finished {
    /// The serial console: the kernel's output.
    pub(crate) kernel_output: String,
}

/// Why the runs stopped early.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// A boot failed; the message says which and where its log is.
    Failed(String),
    /// A signal asked to stop (its number), and the running boots were ended.
    Signal(i32),
}

/// The state the scheduler and its workers share.
struct Shared {
    /// Indices of boots not started yet.
    queue: Mutex<VecDeque<usize>>,
    /// Process-group ids of the running runners, by boot index.
    running: Mutex<BTreeMap<usize, u32>>,
    /// Set when no further boot may start.
    stop: AtomicBool,
}

/// Runs `boots`, up to `jobs` at once, printing progress and an ETA on stderr; returns each
/// boot's output, in the order of `boots`.
///
/// # Errors
/// [`Stopped::Failed`] when a boot fails (the others are ended), [`Stopped::Signal`] on SIGINT
/// or SIGTERM.
pub(crate) fn run_boots(boots: Vec<Boot>, jobs: usize) -> Result<Vec<Finished>, Stopped> {
    let interrupt = Arc::new(AtomicBool::new(false));
    let terminate = Arc::new(AtomicBool::new(false));
    let mut handlers = Vec::new();
    // A second SIGINT while the first is being handled exits at once (status 1).
    for (signal, flag) in [(signal_hook::consts::SIGINT, &interrupt), (signal_hook::consts::SIGTERM, &terminate)] {
        if signal == signal_hook::consts::SIGINT
            && let Ok(id) = signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(flag))
        {
            handlers.push(id);
        }
        if let Ok(id) = signal_hook::flag::register(signal, Arc::clone(flag)) {
            handlers.push(id);
        }
    }
    let result = schedule(boots, jobs, &interrupt, &terminate);
    for id in handlers {
        signal_hook::low_level::unregister(id);
    }
    result
}

/// The scheduler behind [`run_boots`].
fn schedule(boots: Vec<Boot>, jobs: usize, interrupt: &AtomicBool, terminate: &AtomicBool) -> Result<Vec<Finished>, Stopped> {
    let total = boots.len();
    let labels: Vec<String> = boots.iter().map(|boot| boot.label.clone()).collect();
    let shared = Arc::new(Shared { queue: Mutex::new((0..total).collect()), running: Mutex::new(BTreeMap::new()), stop: AtomicBool::new(false) });
    let boots: Arc<Mutex<Vec<Option<Boot>>>> = Arc::new(Mutex::new(boots.into_iter().map(Some).collect()));
    let (sender, receiver) = mpsc::channel::<(usize, Result<Finished, String>, Duration)>();
    let workers: Vec<_> = (0..jobs.clamp(1, total.max(1)))
        .map(|_| {
            let (shared, boots, sender) = (Arc::clone(&shared), Arc::clone(&boots), sender.clone());
            std::thread::spawn(move || worker(&shared, &boots, &sender))
        })
        .collect();
    drop(sender);
    let started = Instant::now();
    let mut results: Vec<Option<Finished>> = (0..total).map(|_| None).collect();
    let mut done = 0;
    let mut outcome = Ok(());
    while done < total {
        if let Some(signal) = [(interrupt, signal_hook::consts::SIGINT), (terminate, signal_hook::consts::SIGTERM)]
            .iter()
            .find(|(flag, _)| flag.load(Ordering::SeqCst))
            .map(|(_, signal)| *signal)
        {
            eprintln!("bench: signal {signal}: ending the {} running QEMU boots", lock(&shared.running).len());
            outcome = Err(Stopped::Signal(signal));
            break;
        }
        match receiver.recv_timeout(POLL_INTERVAL) {
            Ok((index, Ok(finished), took)) => {
                done += 1;
                results[index] = Some(finished);
                let elapsed = started.elapsed();
                let left = elapsed.mul_f64((total - done) as f64 / done as f64);
                eprintln!(
                    "bench: [{done}/{total}] {} done in {}; {} elapsed, about {} left",
                    labels[index],
                    duration(took),
                    duration(elapsed),
                    duration(left)
                );
            }
            Ok((_, Err(message), _)) => {
                outcome = Err(Stopped::Failed(message));
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                outcome = Err(Stopped::Failed("the bench workers ended before every boot finished".into()));
                break;
            }
        }
    }
    if outcome.is_err() {
        stop_all(&shared);
    }
    for worker in workers {
        let _ = worker.join();
    }
    outcome?;
    Ok(results.into_iter().flatten().collect())
}

/// Stops new boots and sends SIGTERM to every running runner's process group.
fn stop_all(shared: &Shared) {
    shared.stop.store(true, Ordering::SeqCst);
    lock(&shared.queue).clear();
    for &group in lock(&shared.running).values() {
        if let Some(pid) = i32::try_from(group).ok().and_then(rustix::process::Pid::from_raw) {
            // The group may have ended just now; nothing else to do then.
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::TERM);
        }
    }
}

/// Takes a lock, also after another thread panicked while holding it (the data stays usable).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs boots from the queue until it is empty or the scheduler stops.
fn worker(shared: &Shared, boots: &Mutex<Vec<Option<Boot>>>, sender: &mpsc::Sender<(usize, Result<Finished, String>, Duration)>) {
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Some(index) = lock(&shared.queue).pop_front() else { return };
        let Some(mut boot) = lock(boots)[index].take() else { return };
        let start = Instant::now();
        // Not started: the study stopped meanwhile, and the scheduler already knows why.
        let Some(result) = run_one(shared, index, &mut boot) else { return };
        lock(&shared.running).remove(&index);
        if result.is_err() {
            // No further boot starts, even before the scheduler hears of the failure.
            shared.stop.store(true, Ordering::SeqCst);
        }
        if sender.send((index, result, start.elapsed())).is_err() {
            return;
        }
    }
}

/// Starts one runner in its own process group, registers it, and collects its output; `None`
/// when the study stopped before it could start.
fn run_one(shared: &Shared, index: usize, boot: &mut Boot) -> Option<Result<Finished, String>> {
    let log = match std::fs::File::create(&boot.log) {
        Ok(log) => log,
        Err(error) => return Some(Err(format!("creating {}: {error}", boot.log.display()))),
    };
    let spawned = {
        // Spawning under the lock: a stop either comes first (and nothing starts) or finds the
        // new runner registered.
        let mut running = lock(&shared.running);
        if shared.stop.load(Ordering::SeqCst) {
            return None;
        }
        let spawned = boot.command.process_group(0).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log).spawn();
        if let Ok(child) = &spawned {
            running.insert(index, child.id());
        }
        spawned
    };
    Some(collect(boot, spawned))
}

/// Reads a started runner's output and waits for its verdict.
fn collect(boot: &Boot, spawned: std::io::Result<std::process::Child>) -> Result<Finished, String> {
    let mut child = spawned.map_err(|error| format!("{}: running {}: {error}", boot.label, crate::describe(&boot.command)))?;
    let mut kernel_output = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        kernel_output = String::from_utf8_lossy(&bytes).replace('\r', "");
    }
    let status = child.wait().map_err(|error| format!("{}: waiting for the runner: {error}", boot.label))?;
    std::fs::write(&boot.serial, &kernel_output).map_err(|error| format!("{}: writing {}: {error}", boot.label, boot.serial.display()))?;
    if status.code() == Some(0) {
        Ok(Finished { kernel_output })
    } else {
        let tail: Vec<&str> = kernel_output.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(format!(
            "{} failed (runner status {status}; its log: {}, its serial console: {}); the kernel's last lines:\n{}",
            boot.label,
            boot.log.display(),
            boot.serial.display(),
            tail.join("\n")
        ))
    }
}

/// Formats a duration as `1h02m`, `3m05s` or `42s`.
pub(crate) fn duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_shared_memory_check_counts_one_ram_file_per_parallel_boot() {
        const GIB: u64 = 1 << 30;
        assert_eq!(shared_memory_shortfall(24 * GIB, 2, 4096), None, "2 x 4 GiB fit in 24 GiB");
        assert_eq!(shared_memory_shortfall(8 * GIB, 2, 4096), None, "exactly enough fits");
        assert_eq!(shared_memory_shortfall(8 * GIB - 1, 2, 4096), Some(1));
        assert_eq!(shared_memory_shortfall(10 * GIB, 3, 4096), Some(2 * GIB));
        assert_eq!(shared_memory_shortfall(0, 0, 4096), None);
        assert_eq!(shared_memory_shortfall(0, usize::MAX, u32::MAX), Some(u64::MAX), "saturates, never wraps");
    }

    #[test]
    fn durations_read_as_hours_minutes_seconds() {
        assert_eq!(duration(Duration::from_secs(42)), "42s");
        assert_eq!(duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(duration(Duration::from_secs(3720)), "1h02m");
    }

    fn shell(label: &str, script: &str, log: &Path) -> Boot {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        Boot { label: label.into(), command, log: log.to_owned(), serial: log.with_extension("serial") }
    }

    #[test]
    fn outputs_come_back_in_boot_order_whatever_finishes_first() {
        let dir = std::env::temp_dir().join(format!("shoal-runner-order-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let boots = vec![
            shell("slow", "sleep 0.5; echo first", &dir.join("a.log")),
            shell("fast", "echo second", &dir.join("b.log")),
            shell("faster", "echo third >&2; echo third", &dir.join("c.log")),
        ];
        let outputs = run_boots(boots, 3).unwrap();
        let lines: Vec<&str> = outputs.iter().map(|finished| finished.kernel_output.trim()).collect();
        assert_eq!(lines, ["first", "second", "third"]);
        assert_eq!(std::fs::read_to_string(dir.join("c.log")).unwrap(), "third\n", "stderr goes to the boot's log");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_failed_boot_stops_the_others_and_names_its_log() {
        let dir = std::env::temp_dir().join(format!("shoal-runner-fail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let marker = dir.join("never");
        let boots = vec![
            shell("long", "sleep 30", &dir.join("a.log")),
            shell("broken", "echo oops; exit 3", &dir.join("b.log")),
            shell("queued", &format!("touch {}", marker.display()), &dir.join("c.log")),
        ];
        let start = Instant::now();
        let error = run_boots(boots, 2).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(10), "the long boot was ended, not waited for");
        let Stopped::Failed(message) = error else { panic!("{error:?}") };
        assert!(message.starts_with("broken failed (runner status exit status: 3; its log: "), "{message}");
        assert_eq!(std::fs::read_to_string(dir.join("b.serial")).unwrap(), "oops\n", "a failed boot's console is kept");
        assert!(message.ends_with("the kernel's last lines:\noops"), "{message}");
        assert!(!marker.exists(), "no boot starts after a failure");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
