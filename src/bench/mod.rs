//! `shoal bench`: the density study on the host side.
//!
//! The unit of work is one configuration — workload, PCID setting, window mode, number of
//! instances N — run by one QEMU boot of the bench image (`SHOAL_BENCH_IMAGE`, the one with the
//! 64 MiB runtime) under the tlbsim plugin, with the kernel arguments `test=density modes=<one
//! mode> instances=<one N> ...` ([`unit`]). [`run`] runs a study's units (or one shard of them)
//! in parallel QEMU processes ([`runner`]), keeps every boot's raw output in `raw/`, and writes
//! a results folder from those raw outputs ([`write_folder`]):
//! - `results.csv`: one row per configuration, in unit order, columns as in
//!   `docs/result-schema.md` ([`rows`]);
//! - per workload four charts as SVG and PNG ([`charts`]): `<workload>-walks` (warm walks per
//!   invocation), `<workload>-cold` (cold walks, flushed and shared-warm),
//!   `<workload>-overhead` (translation overhead %), `<workload>-page-tables` (page-table pages
//!   per instance);
//! - `report.md`: methodology, generated findings, the plugin slowdown, the tables ([`report`]);
//! - `manifest.txt`: the options that define the study, the shard this folder holds and the
//!   source revision the tool was built from ([`source_revision`]).
//!
//! [`merge`] joins shard folders into the folder a single run would have written: it rebuilds
//! every file from the shards' raw outputs with the same [`write_folder`].
//!
//! Same input, same counts: the walk counts come from the deterministic simulator; cycle counts
//! are the emulator's and are labelled as such.

pub(crate) mod charts;
pub(crate) mod linux;
pub(crate) mod report;
pub(crate) mod rows;
pub(crate) mod runner;
pub(crate) mod unit;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use kernel_args::WindowMode;

use self::rows::Row;
use self::unit::{Shard, Unit};

/// What defines a study's results: two folders can be merged only if these agree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Study {
    /// The tlbsim TLB preset.
    pub(crate) preset: String,
    /// The cost model's paging-structure-cache sizes (`low`, `nominal`, `high`); `None`: the
    /// plugin's default.
    pub(crate) psc: Option<String>,
    /// The cost model's base CPI; `None`: the plugin's default.
    pub(crate) base_cpi: Option<String>,
    /// The workloads.
    pub(crate) workloads: Vec<String>,
    /// The builds to run (`native`, `linux-musl`), each for every workload that has it; empty:
    /// each workload's default build.
    pub(crate) binaries: Vec<String>,
    /// The instance counts, ascending.
    pub(crate) instances: Vec<u32>,
    /// The window modes.
    pub(crate) modes: Vec<WindowMode>,
    /// Warm-up invocations per configuration (the kernel rounds up to whole rounds).
    pub(crate) warmup: u32,
    /// Measured invocations per configuration (the kernel rounds up to whole rounds).
    pub(crate) invocations: u32,
    /// Rounds of warm-up and of measurement per configuration, when given: each configuration of
    /// N instances then runs `rounds × N` warm-up and `rounds × N` measured invocations
    /// (instead of `warmup` and `invocations`).
    pub(crate) rounds: Option<u32>,
    /// PCID settings: `on` (simulated under TCG) and/or `off`.
    pub(crate) pcid: Vec<String>,
    /// Window leaf sizes: `off` (4 KiB pages) and/or `on` (2 MiB pages for the read-only
    /// regions: the kernel's `large_pages`).
    pub(crate) large_pages: Vec<String>,
    /// Guest memory in MiB.
    pub(crate) memory_mib: u32,
    /// Whether one boot per workload runs without the plugin, for the slowdown figure.
    pub(crate) plugin_slowdown: bool,
    /// Linux baselines ([`linux::BASELINES`]) that run beside shoal, on every instance count,
    /// for each workload with a `linux-musl` build.
    pub(crate) baselines: Vec<String>,
    /// Code and data pages per synthetic invocation, when not the kernel's default (32, 32);
    /// (0, 0) is the empty handler that calibrates an invocation's fixed cost.
    pub(crate) pages: Option<(u32, u32)>,
}

/// What `shoal bench` needs.
pub(crate) struct BenchOptions {
    /// The study.
    pub(crate) study: Study,
    /// `qemu-runner.sh`.
    pub(crate) runner: PathBuf,
    /// The UEFI bench image.
    pub(crate) image: PathBuf,
    /// The tlbsim plugin.
    pub(crate) plugin: PathBuf,
    /// The Linux guest kernel, when the study has baselines.
    pub(crate) guest: Option<crate::linux_guest::GuestKernel>,
    /// The results folder.
    pub(crate) out_dir: PathBuf,
    /// Per-boot timeout in seconds.
    pub(crate) timeout_seconds: u32,
    /// QEMU boots run at once.
    pub(crate) jobs: usize,
    /// The part of the study this run does.
    pub(crate) shard: Shard,
}

/// Workloads the bench image carries.
pub(crate) const WORKLOADS: [&str; 6] = ["synth-small", "synth-medium", "synth-large", "wasm-runtime", "js-runtime", "lua-runtime"];

/// Values of `--psc`.
pub(crate) const PSC_VALUES: [&str; 3] = ["low", "nominal", "high"];

/// First line of `manifest.txt`.
const MANIFEST_HEADER: &str = "shoal bench manifest v=1";

/// Version of `docs/result-schema.md` this tool writes.
pub(crate) const SCHEMA_VERSION: u32 = 6;

/// Checks the options before anything boots, with a message naming the bad value.
///
/// # Errors
/// Returns the message.
pub(crate) fn check(options: &BenchOptions) -> Result<(), String> {
    const MAX_JOBS: usize = 256;
    if options.jobs == 0 || options.jobs > MAX_JOBS {
        return Err(format!("--jobs must be in 1..={MAX_JOBS}, not {}", options.jobs));
    }
    check_study(&options.study)
}

/// Checks a study's options.
fn check_study(study: &Study) -> Result<(), String> {
    const MAX_COUNTS: usize = 16;
    const MAX_INSTANCES: u32 = 65536;
    const MAX_INVOCATIONS: u32 = 10_000_000;
    const MAX_BASE_CPI: f64 = 100.0;
    const MAX_PAGES: u32 = 4096;
    if study.workloads.is_empty() {
        return Err("no workload given".into());
    }
    if let Some(unknown) = study.workloads.iter().find(|workload| !WORKLOADS.contains(&workload.as_str())) {
        return Err(format!("unknown workload \"{unknown}\"; known: {}", WORKLOADS.join(" ")));
    }
    if let Some(unknown) = study.binaries.iter().find(|binary| kernel_args::Build::from_name(binary).is_none()) {
        return Err(format!("unknown build \"{unknown}\" in --binary; known: {}", kernel_args::Build::ALL.map(kernel_args::Build::name).join(" ")));
    }
    if has_duplicates(&study.binaries) {
        return Err(format!("--binary names a build twice: {}", study.binaries.join(",")));
    }
    if let Some(unknown) = study.baselines.iter().find(|baseline| !linux::BASELINES.contains(&baseline.as_str())) {
        return Err(format!("unknown baseline \"{unknown}\" in --baseline; known: {}", linux::BASELINES.join(" ")));
    }
    if let Some((code, data)) = study.pages
        && (code > MAX_PAGES || data > MAX_PAGES)
    {
        return Err(format!("--pages takes CODE,DATA, each in 0..={MAX_PAGES}, not {code},{data}"));
    }
    if has_duplicates(&study.baselines) {
        return Err(format!("--baseline names a baseline twice: {}", study.baselines.join(",")));
    }
    if !study.baselines.is_empty()
        && let Some(native_only) = study.workloads.iter().find(|workload| unit::workload_named(workload).is_some_and(|known| !known.has_build(kernel_args::Build::LinuxMusl)))
    {
        return Err(format!("workload {native_only} has no linux-musl build in the images, so no Linux baseline can run it; leave it out or drop --baseline"));
    }
    for workload in &study.workloads {
        if study.builds_of(workload).is_empty() {
            let builds = unit::workload_named(workload).map_or_else(Vec::new, |known| known.builds().iter().map(|build| build.name()).collect());
            return Err(format!("workload {workload} has no {} build in the bench image (it has: {})", study.binaries.join(" or "), builds.join(", ")));
        }
    }
    if study.instances.is_empty() || study.instances.len() > MAX_COUNTS {
        return Err(format!("--instances takes 1 to {MAX_COUNTS} counts, not {}", study.instances.len()));
    }
    if study.instances.iter().any(|&count| count == 0 || count > MAX_INSTANCES) || study.instances.windows(2).any(|pair| pair[0] >= pair[1]) {
        return Err(format!("--instances must increase strictly, each in 1..={MAX_INSTANCES}: {}", instance_list(&study.instances)));
    }
    if study.warmup == 0 || study.warmup > MAX_INVOCATIONS {
        return Err(format!("--warmup must be in 1..={MAX_INVOCATIONS}, not {}", study.warmup));
    }
    if study.invocations == 0 || study.invocations > MAX_INVOCATIONS {
        return Err(format!("--invocations must be in 1..={MAX_INVOCATIONS}, not {}", study.invocations));
    }
    if let Some(rounds) = study.rounds {
        let largest = study.instances.iter().max().copied().unwrap_or(1);
        if rounds == 0 || u64::from(rounds) * u64::from(largest) > u64::from(MAX_INVOCATIONS) {
            return Err(format!("--rounds must be at least 1 and rounds x the largest instance count at most {MAX_INVOCATIONS}, not {rounds} x {largest}"));
        }
    }
    if study.pcid.is_empty() || study.pcid.iter().any(|pcid| pcid != "on" && pcid != "off") || has_duplicates(&study.pcid) {
        return Err(format!("--pcid takes on and/or off, not \"{}\"", study.pcid.join(",")));
    }
    if study.large_pages.is_empty() || study.large_pages.iter().any(|value| value != "on" && value != "off") || has_duplicates(&study.large_pages) {
        return Err(format!("--large-pages takes off and/or on, not \"{}\"", study.large_pages.join(",")));
    }
    if study.modes.is_empty() || has_duplicates(&study.modes) {
        return Err(format!("--modes takes 1 to 4 different modes of: {}", WindowMode::ALL.map(WindowMode::name).join(" ")));
    }
    if let Some(psc) = &study.psc
        && !PSC_VALUES.contains(&psc.as_str())
    {
        return Err(format!("--psc takes one of {}, not \"{psc}\"", PSC_VALUES.join(" ")));
    }
    if let Some(base_cpi) = &study.base_cpi
        && !(base_cpi.bytes().all(|byte| byte.is_ascii_digit() || byte == b'.')
            && base_cpi.parse::<f64>().is_ok_and(|value| value > 0.0 && value <= MAX_BASE_CPI))
    {
        return Err(format!("--base-cpi takes a decimal number in (0, {MAX_BASE_CPI}], such as 0.8, not \"{base_cpi}\""));
    }
    Ok(())
}

/// Returns whether a list holds a value twice.
fn has_duplicates<T: PartialEq>(items: &[T]) -> bool {
    items.iter().enumerate().any(|(index, item)| items[..index].contains(item))
}

/// Returns the instance counts as the kernel's `instances` value (`1,64,1024`).
fn instance_list(instances: &[u32]) -> String {
    instances.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

impl Study {
    /// Returns the study's units in their stable order.
    pub(crate) fn units(&self) -> Vec<Unit> {
        let pairs: Vec<(String, String)> =
            self.workloads.iter().flat_map(|workload| self.builds_of(workload).into_iter().map(|build| (workload.clone(), build.to_owned()))).collect();
        let large_pages: Vec<bool> = self.large_pages.iter().map(|value| value == "on").collect();
        unit::units(&unit::Grid {
            workloads: &pairs,
            pcid: &self.pcid,
            large_pages: &large_pages,
            modes: &self.modes,
            instances: &self.instances,
            baselines: &self.baselines,
            plugin_slowdown: self.plugin_slowdown,
        })
    }

    /// Returns the builds of `workload` the study runs: those of `binaries` it has, in the
    /// order given, or its default build when `binaries` is empty.
    pub(crate) fn builds_of(&self, workload: &str) -> Vec<&'static str> {
        let Some(known) = unit::workload_named(workload) else { return Vec::new() };
        if self.binaries.is_empty() {
            return vec![known.default_build().name()];
        }
        self.binaries.iter().filter_map(|name| kernel_args::Build::from_name(name)).filter(|&build| known.has_build(build)).map(kernel_args::Build::name).collect()
    }

    /// Returns the plugin arguments (besides `out=`): the preset and, where given, the cost
    /// model's options.
    fn plugin_args(&self) -> String {
        let mut args = format!("preset={}", self.preset);
        if let Some(psc) = &self.psc {
            args.push_str(&format!(",psc={psc}"));
        }
        if let Some(base_cpi) = &self.base_cpi {
            args.push_str(&format!(",base_cpi={base_cpi}"));
        }
        args
    }

    /// Returns `manifest.txt` for a folder holding `shard` of this study, run from `source`
    /// (see [`source_revision`]).
    pub(crate) fn manifest(&self, shard: Shard, source: &str) -> String {
        let entries = self.manifest_entries();
        let mut text = format!("{MANIFEST_HEADER}\n");
        for (key, value) in entries {
            text.push_str(&format!("{key}={value}\n"));
        }
        text.push_str(&format!("shard={shard}\nsource={source}\n"));
        text
    }

    /// Returns the kernel arguments (and the Linux driver's, which has the same names) that set
    /// the synthetic pages, with a leading space; empty for the default.
    pub(crate) fn pages_arguments(&self) -> String {
        self.pages.map(|(code, data)| format!(" code_pages={code} data_pages={data}")).unwrap_or_default()
    }

    /// Returns the warm-up invocations of a configuration of `instances` instances.
    pub(crate) fn warmup_for(&self, instances: u32) -> u32 {
        self.rounds.map_or(self.warmup, |rounds| rounds * instances)
    }

    /// Returns the measured invocations of a configuration of `instances` instances.
    pub(crate) fn invocations_for(&self, instances: u32) -> u32 {
        self.rounds.map_or(self.invocations, |rounds| rounds * instances)
    }

    /// Returns the study's defining options as manifest entries, in a fixed order.
    fn manifest_entries(&self) -> Vec<(&'static str, String)> {
        vec![
            ("schema", SCHEMA_VERSION.to_string()),
            ("preset", self.preset.clone()),
            ("psc", self.psc.clone().unwrap_or_default()),
            ("base_cpi", self.base_cpi.clone().unwrap_or_default()),
            ("workloads", self.workloads.join(",")),
            ("binaries", self.binaries.join(",")),
            ("instances", instance_list(&self.instances)),
            ("modes", self.modes.iter().map(|mode| mode.name()).collect::<Vec<_>>().join(",")),
            ("pcid", self.pcid.join(",")),
            ("large_pages", self.large_pages.join(",")),
            ("warmup", self.warmup.to_string()),
            ("invocations", self.invocations.to_string()),
            ("rounds", self.rounds.map(|rounds| rounds.to_string()).unwrap_or_default()),
            ("memory", self.memory_mib.to_string()),
            ("plugin_slowdown", if self.plugin_slowdown { "on" } else { "off" }.to_owned()),
            ("baselines", self.baselines.join(",")),
            ("pages", self.pages.map(|(code, data)| format!("{code},{data}")).unwrap_or_default()),
        ]
    }

    /// Reads a `manifest.txt`: the study and the shard the folder holds.
    ///
    /// # Errors
    /// Returns a message naming the missing or bad entry.
    pub(crate) fn from_manifest(text: &str) -> Result<(Study, Shard), String> {
        let mut lines = text.lines();
        if lines.next() != Some(MANIFEST_HEADER) {
            return Err(format!("not a shoal bench manifest (its first line is not \"{MANIFEST_HEADER}\")"));
        }
        let entries: BTreeMap<&str, &str> = lines.filter_map(|line| line.split_once('=')).collect();
        let get = |key: &str| entries.get(key).copied().ok_or_else(|| format!("no {key}= entry"));
        if get("schema")? != SCHEMA_VERSION.to_string() {
            return Err(format!("schema {} written by another version of shoal bench (this one writes {SCHEMA_VERSION})", get("schema")?));
        }
        let list = |key: &str| -> Result<Vec<String>, String> { Ok(get(key)?.split(',').filter(|item| !item.is_empty()).map(str::to_owned).collect()) };
        let number = |key: &str| -> Result<u32, String> { get(key)?.parse().map_err(|_| format!("{key}={} is not a number", get(key).unwrap_or(""))) };
        let optional = |key: &str| -> Result<Option<String>, String> { Ok(Some(get(key)?.to_owned()).filter(|value| !value.is_empty())) };
        let study = Study {
            preset: get("preset")?.to_owned(),
            psc: optional("psc")?,
            base_cpi: optional("base_cpi")?,
            workloads: list("workloads")?,
            binaries: list("binaries")?,
            instances: list("instances")?.iter().map(|count| count.parse().map_err(|_| format!("instances: \"{count}\" is not a number"))).collect::<Result<_, _>>()?,
            modes: list("modes")?.iter().map(|name| WindowMode::from_name(name).ok_or_else(|| format!("modes: unknown mode \"{name}\""))).collect::<Result<_, _>>()?,
            pcid: list("pcid")?,
            large_pages: list("large_pages")?,
            warmup: number("warmup")?,
            invocations: number("invocations")?,
            rounds: optional("rounds")?.map(|rounds| rounds.parse().map_err(|_| format!("rounds={rounds} is not a number"))).transpose()?,
            memory_mib: number("memory")?,
            plugin_slowdown: match get("plugin_slowdown")? {
                "on" => true,
                "off" => false,
                other => return Err(format!("plugin_slowdown={other} is neither on nor off")),
            },
            baselines: list("baselines")?,
            pages: match optional("pages")? {
                None => None,
                Some(text) => {
                    let parsed = text.split_once(',').and_then(|(code, data)| Some((code.parse().ok()?, data.parse().ok()?)));
                    Some(parsed.ok_or_else(|| format!("pages={text} is not CODE,DATA"))?)
                }
            },
        };
        check_study(&study)?;
        Ok((study, Shard::parse(get("shard")?)?))
    }

    /// Returns, for each entry where `self` and `other` differ, `key: this vs that`.
    fn differences(&self, other: &Study) -> Vec<String> {
        self.manifest_entries()
            .into_iter()
            .zip(other.manifest_entries())
            .filter(|(mine, theirs)| mine.1 != theirs.1)
            .map(|((key, mine), (_, theirs))| format!("{key}: \"{mine}\" vs \"{theirs}\""))
            .collect()
    }
}

/// Returns the source revision this tool, its kernel and its images were built from (the
/// `source-revision` crate: the commit, `-dirty` when a tracked file differed from it, or
/// `unknown (...)` with git's reason), which every results folder names.
pub(crate) fn source_revision() -> &'static str {
    source_revision::REVISION
}

/// Returns a manifest's `source=` entry; `unknown` for a folder written before it existed.
fn manifest_source(text: &str) -> String {
    text.lines().find_map(|line| line.strip_prefix("source=")).unwrap_or("unknown").to_owned()
}

/// The raw output of one unit's boot.
pub(crate) struct UnitOutput {
    /// The unit.
    pub(crate) unit: Unit,
    /// The serial console (the kernel's lines).
    pub(crate) kernel: String,
    /// The plugin's report lines (empty for a unit without the plugin).
    pub(crate) plugin: String,
}

/// Returns where a unit's raw serial output is kept.
fn serial_path(dir: &Path, unit: &Unit) -> PathBuf {
    dir.join("raw").join(format!("{}.serial.txt", unit.name()))
}

/// Returns where a unit's raw plugin output is kept.
fn plugin_path(dir: &Path, unit: &Unit) -> PathBuf {
    dir.join("raw").join(format!("{}.tlbsim.txt", unit.name()))
}

/// Returns where a run keeps the Linux guest's initramfs.
fn initramfs_path(dir: &Path) -> PathBuf {
    dir.join("raw").join("linux-initramfs.cpio")
}

/// Returns the runner command of one unit.
fn unit_command(options: &BenchOptions, unit: &Unit) -> Command {
    let study = &options.study;
    let mut command = Command::new(&options.runner);
    let (warmup, invocations) = (study.warmup_for(unit.instances), study.invocations_for(unit.instances));
    command.args(["--mode", "test", "--timeout", &options.timeout_seconds.to_string(), "--memory", &study.memory_mib.to_string()]);
    match &options.guest {
        Some(guest) if unit.is_baseline() => {
            // The uncompressed kernel (no decompressor runs under the plugin), instruction-counted
            // time (the guest's timer ticks land at the same instruction counts in every run).
            command
                .args(["--firmware", "bios", "--icount", "--linux-kernel", &guest.vmlinux.display().to_string()])
                .args(["--initrd", &initramfs_path(&options.out_dir).display().to_string()])
                .args(["--append", &format!("{}{}", linux::unit_command_line(unit, warmup, invocations), study.pages_arguments())]);
        }
        _ => {
            command.args(["--firmware", "uefi", "--args", &format!("{}{}", unit.kernel_args(warmup, invocations), study.pages_arguments())]);
        }
    }
    if unit.plugin {
        let out = plugin_path(&options.out_dir, unit);
        // Linux runs different programs at the same linear addresses (every static-pie at
        // ELF_ET_DYN_BASE); exact mode counts each block at its RIP whatever QEMU shared.
        let mode = if unit.is_baseline() { ",mode=exact" } else { "" };
        command
            .args(["--tlbsim", &format!("{}{mode},out={}", study.plugin_args(), out.display())])
            .args(["--tlbsim-plugin", &options.plugin.display().to_string()]);
    }
    if !unit.is_baseline() {
        command.arg(&options.image);
    }
    command
}

/// Runs this run's units and writes the results folder; returns the rows.
///
/// # Errors
/// [`runner::Stopped`] when a boot fails, a file cannot be written, or a signal stopped the run.
pub(crate) fn run(options: &BenchOptions) -> Result<Vec<Row>, runner::Stopped> {
    let failed = runner::Stopped::Failed;
    let study = &options.study;
    let raw = options.out_dir.join("raw");
    std::fs::create_dir_all(&raw).map_err(|error| failed(format!("creating {}: {error}", raw.display())))?;
    let all = study.units();
    let mine: Vec<Unit> = all.iter().enumerate().filter(|(index, _)| options.shard.selects(*index)).map(|(_, unit)| unit.clone()).collect();
    let simulated = mine.iter().filter(|unit| unit.plugin).count();
    if mine.iter().any(Unit::is_baseline) {
        if options.guest.is_none() {
            return Err(failed("the study has Linux baselines but no guest kernel was located".into()));
        }
        linux::write_initramfs(&initramfs_path(&options.out_dir), &study.workloads).map_err(failed)?;
    }
    runner::check_shared_memory(options.jobs.min(simulated), study.memory_mib).map_err(failed)?;
    let shard = if options.shard == Shard::WHOLE { String::new() } else { format!(" (shard {} of {} units)", options.shard, all.len()) };
    eprintln!(
        "bench: {} configurations{shard}, up to {} QEMU boots at once, tlbsim {}; raw outputs in {}",
        mine.len(),
        options.jobs.min(mine.len()).max(1),
        study.plugin_args(),
        raw.display()
    );
    let boots = mine
        .iter()
        .map(|unit| runner::Boot {
            label: unit.describe(),
            command: unit_command(options, unit),
            log: raw.join(format!("{}.log", unit.name())),
            serial: serial_path(&options.out_dir, unit),
        })
        .collect();
    let finished = runner::run_boots(boots, options.jobs)?;
    let mut outputs = Vec::new();
    for (unit, finished) in mine.into_iter().zip(finished) {
        let plugin = if unit.plugin { read(&plugin_path(&options.out_dir, &unit)).map_err(failed)? } else { String::new() };
        outputs.push(UnitOutput { unit, kernel: finished.kernel_output, plugin });
    }
    write_folder(&options.out_dir, study, options.shard, source_revision(), &outputs).map_err(failed)
}

/// The charts drawn per workload: file stem and title.
pub(crate) const CHARTS: [(&str, &str); 4] = [
    ("walks", "Warm page walks per invocation"),
    ("cold", "Cold start: page walks of a fresh instance's first invocation"),
    ("overhead", "Translation overhead (upper bound)"),
    ("page-tables", "Page-table pages per instance"),
];

/// Writes a results folder from the units' raw outputs (in unit order): `results.csv`, the
/// charts, `report.md` and `manifest.txt`, naming `source` as the revision that ran them;
/// returns the rows.
///
/// # Errors
/// Returns a message naming the file that could not be written.
pub(crate) fn write_folder(out_dir: &Path, study: &Study, shard: Shard, source: &str, outputs: &[UnitOutput]) -> Result<Vec<Row>, String> {
    std::fs::create_dir_all(out_dir).map_err(|error| format!("creating {}: {error}", out_dir.display()))?;
    let mut rows = Vec::new();
    let mut plain = Vec::new();
    for output in outputs {
        let mut joined = rows::join(&output.kernel, &output.plugin);
        if output.unit.is_baseline() {
            for row in &mut joined {
                row.kernel.insert("guest_cmdline".into(), linux::command_line(&output.unit.kernel));
            }
        }
        if output.unit.plugin { rows.extend(joined) } else { plain.extend(joined) }
    }
    let geometry = outputs
        .iter()
        .find_map(|output| output.plugin.lines().find(|line| line.starts_with(rows::GEOMETRY_PREFIX)))
        .unwrap_or("")
        .to_owned();
    write(&out_dir.join("results.csv"), &rows::csv(&rows))?;
    for workload in &study.workloads {
        let of_workload: Vec<&Row> = rows.iter().filter(|row| row.kernel_text("workload") == workload).collect();
        let measured: Vec<f64> = of_workload.iter().map(|row| row.kernel_number("instances")).collect();
        for (stem, title) in CHARTS {
            charts::draw(&out_dir.join(format!("{workload}-{stem}")), &format!("{title}: {workload}"), &report::panels(stem, &of_workload), &measured)?;
        }
    }
    write(&out_dir.join("report.md"), &report::report(study, shard, source, &rows, &plain, &geometry))?;
    write(&out_dir.join("manifest.txt"), &study.manifest(shard, source))?;
    Ok(rows)
}

/// Returns the files a results folder holds besides `raw/`, for the command's summary.
pub(crate) fn output_files(out_dir: &Path, study: &Study) -> Vec<PathBuf> {
    let mut files = vec![out_dir.join("results.csv"), out_dir.join("report.md"), out_dir.join("manifest.txt")];
    for workload in &study.workloads {
        for (stem, _) in CHARTS {
            for extension in ["svg", "png"] {
                files.push(out_dir.join(format!("{workload}-{stem}.{extension}")));
            }
        }
    }
    files
}

/// Joins shard folders into one results folder at `out_dir`, the same as a single run's:
/// every shard of one study (same manifest but for `shard=`), run from one source revision,
/// each shard once, all present.
///
/// # Errors
/// Returns a message naming the folder, the mismatching options, the missing shard or file.
pub(crate) fn merge(dirs: &[PathBuf], out_dir: &Path) -> Result<(Study, Vec<Row>), String> {
    let mut shards: BTreeMap<u32, &Path> = BTreeMap::new();
    let mut first: Option<(Study, Shard, String, &Path)> = None;
    for dir in dirs {
        let manifest_path = dir.join("manifest.txt");
        let text = read(&manifest_path)?;
        let (study, shard) = Study::from_manifest(&text).map_err(|error| format!("{}: {error}", manifest_path.display()))?;
        let source = manifest_source(&text);
        if let Some((first_study, first_shard, first_source, first_dir)) = &first {
            let differences = first_study.differences(&study);
            if !differences.is_empty() {
                return Err(format!(
                    "{} and {} are shards of different studies ({}); only shards of one study merge",
                    first_dir.display(),
                    dir.display(),
                    differences.join("; ")
                ));
            }
            if shard.count != first_shard.count {
                return Err(format!("{} holds shard {shard} but {} holds shard {first_shard}: the shard counts differ", dir.display(), first_dir.display()));
            }
            if source != *first_source {
                return Err(format!(
                    "{} was run from source {first_source} but {} from {source}; only shards of one revision merge",
                    first_dir.display(),
                    dir.display()
                ));
            }
        } else {
            first = Some((study, shard, source, dir));
        }
        if let Some(other) = shards.insert(shard.index, dir) {
            return Err(format!("{} and {} both hold shard {shard}", other.display(), dir.display()));
        }
    }
    let Some((study, shard, source, _)) = first else { return Err("no shard folders given".into()) };
    if let Some(missing) = (1..=shard.count).find(|index| !shards.contains_key(index)) {
        return Err(format!("shard {missing}/{} is missing: give all {} shard folders", shard.count, shard.count));
    }
    std::fs::create_dir_all(out_dir.join("raw")).map_err(|error| format!("creating {}: {error}", out_dir.join("raw").display()))?;
    let mut outputs = Vec::new();
    for (index, unit) in study.units().into_iter().enumerate() {
        let owner = shards[&(index as u32 % shard.count + 1)];
        let kernel = read(&serial_path(owner, &unit))?;
        let plugin = if unit.plugin { read(&plugin_path(owner, &unit))? } else { String::new() };
        write(&serial_path(out_dir, &unit), &kernel)?;
        if unit.plugin {
            write(&plugin_path(out_dir, &unit), &plugin)?;
        }
        outputs.push(UnitOutput { unit, kernel, plugin });
    }
    let rows = write_folder(out_dir, &study, Shard::WHOLE, &source, &outputs)?;
    Ok((study, rows))
}

/// Writes a file, with an error naming it.
fn write(path: &Path, contents: &str) -> Result<(), String> {
    std::fs::write(path, contents).map_err(|error| format!("writing {}: {error}", path.display()))
}

/// Reads a file, with an error naming it.
fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|error| format!("reading {}: {error}", path.display()))
}

#[cfg(test)]
mod tests;
