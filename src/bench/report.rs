//! The study's `report.md` and the data behind its charts.
//!
//! The report says how the numbers were made (warm-up, the convergence check, the two cold
//! phases, the cost model and its base CPI, the engine), then states findings as sentences
//! generated from the rows — the same code writes them for any run, so they never disagree with
//! the CSV — then the plugin's slowdown (one boot per workload without the plugin), then the
//! tables and charts per workload.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;

use kernel_args::WindowMode;

use super::charts::{Panel, Series};
use super::rows::Row;
use super::unit::Shard;
use super::{SCHEMA_VERSION, Study};

/// Returns whether a row's PCID setting tags address spaces (`simulated` or `on`).
fn pcid_tags(row: &Row) -> bool {
    matches!(row.kernel_text("pcid"), "simulated" | "on")
}

/// Returns the builds (`binary` column) among `rows`, in first-seen order.
pub(crate) fn builds(rows: &[&Row]) -> Vec<String> {
    let mut builds: Vec<String> = Vec::new();
    for row in rows {
        if !builds.iter().any(|build| build == row.kernel_text("binary")) {
            builds.push(row.kernel_text("binary").to_owned());
        }
    }
    builds
}

/// Returns a row's series label: its mode and PCID setting, and its build when `rows` hold
/// more than one build of the workload (`global-shared pcid=off linux-musl`).
fn label(row: &Row, several_builds: bool) -> String {
    if is_baseline(row) {
        return row.kernel_text("kernel").to_owned();
    }
    if several_builds { format!("{} {}", row.mode(), row.kernel_text("binary")) } else { row.mode() }
}

/// Returns whether a Linux baseline produced the row.
fn is_baseline(row: &Row) -> bool {
    row.kernel_text("kernel") != super::unit::SHOAL
}

/// Groups rows into series by mode, PCID setting and (when the rows hold several) build, in
/// first-seen order, with `value`'s points (rows where it is `None` are left out; series
/// without points too). A build other than the workload's default gets triangle markers.
pub(crate) fn series(rows: &[&Row], value: impl Fn(&Row) -> Option<f64>) -> Vec<Series> {
    let several_builds = builds(rows).len() > 1;
    let mut order: Vec<String> = Vec::new();
    let mut grouped: BTreeMap<String, Series> = BTreeMap::new();
    for row in rows {
        let label = label(row, several_builds);
        if !grouped.contains_key(&label) {
            order.push(label.clone());
            // A Linux baseline: its own colour, dashed (no PCID), square points.
            let colour = if is_baseline(row) {
                super::linux::BASELINES.iter().position(|baseline| *baseline == row.kernel_text("kernel")).map(|index| WindowMode::ALL.len() + index)
            } else {
                WindowMode::ALL.iter().position(|mode| mode.name() == row.mode_name())
            };
            let build = row.kernel_text("binary");
            let marker = if is_baseline(row) {
                2
            } else if row.large_pages() {
                3
            } else {
                usize::from(!build.is_empty() && build != super::unit::default_build(row.kernel_text("workload")))
            };
            grouped.insert(label.clone(), Series { label: label.clone(), points: Vec::new(), colour, dashed: !pcid_tags(row), marker });
        }
        if let (Some(series), Some(value)) = (grouped.get_mut(&label), value(row)) {
            series.points.push((row.kernel_number("instances"), value));
        }
    }
    order
        .into_iter()
        .filter_map(|label| grouped.remove(&label))
        .filter(|series| !series.points.is_empty())
        .map(|mut series| {
            series.points.sort_by(|a, b| a.0.total_cmp(&b.0));
            series
        })
        .collect()
}

/// Returns the panels of the chart `stem` (one of [`super::CHARTS`]) for one workload's rows.
pub(crate) fn panels(stem: &str, rows: &[&Row]) -> Vec<Panel> {
    let panel = |title: &str, y_label: &str, series: Vec<Series>| Panel { title: title.to_owned(), y_label: y_label.to_owned(), series };
    match stem {
        "walks" => vec![panel("warm, after the warm-up", "page walks per invocation", series(rows, |row| Some(row.walks_per_invocation())))],
        "cold" => vec![
            panel("cold, flushed (every TLB entry invalidated)", "page walks, first invocation", series(rows, Row::cold_flushed_walks)),
            panel("cold, shared-warm (the other instances' entries cached)", "page walks, first invocation", series(rows, Row::cold_shared_walks)),
        ],
        "overhead" => {
            let series = series(rows, Row::translation_overhead_percent);
            let title = if series.is_empty() {
                "no cost figures: the plugin printed no cost.walk_cycles (needs phase line version 2)"
            } else {
                "walk cycles / (instructions x base CPI + walk cycles)"
            };
            vec![panel(title, "% of cycles", series)]
        }
        _ => vec![panel("owned by the instances' address spaces", "page-table pages per instance", series(rows, |row| Some(row.kernel_number("page_table_pages_per_instance"))))],
    }
}

/// Formats a whole count of walks as `once`, `twice` or `N times`.
fn times(count: f64) -> String {
    match count {
        1.0 => "once".to_owned(),
        2.0 => "twice".to_owned(),
        _ => format!("{count:.0} times"),
    }
}

/// Formats a figure with two decimals, `?` when missing.
fn figure(value: Option<f64>) -> String {
    value.map_or_else(|| "?".to_owned(), |value| format!("{value:.2}"))
}

/// Returns the row of (workload, pcid word, mode, instances) with 4 KiB window pages, if measured.
fn find<'a>(rows: &[&'a Row], pcid: &str, mode: WindowMode, instances: f64) -> Option<&'a Row> {
    find_sized(rows, pcid, mode, instances, false)
}

/// Returns the row of (workload, pcid word, mode, instances) with 2 MiB (`large`) or 4 KiB
/// window pages, if measured.
fn find_sized<'a>(rows: &[&'a Row], pcid: &str, mode: WindowMode, instances: f64, large: bool) -> Option<&'a Row> {
    rows.iter().copied().find(|row| {
        row.kernel_text("pcid") == pcid && row.mode_name() == mode.name() && row.kernel_number("instances") == instances && row.large_pages() == large
    })
}

/// Writes the findings for one workload: sentences computed from its rows.
pub(crate) fn findings(rows: &[&Row]) -> Vec<String> {
    let mut sentences = Vec::new();
    let mut pcids: Vec<&str> = rows.iter().map(|row| row.kernel_text("pcid")).collect();
    pcids.dedup();
    for pcid in pcids {
        let of_pcid: Vec<&Row> = rows.iter().copied().filter(|row| row.kernel_text("pcid") == pcid).collect();
        let mut counts: Vec<f64> = of_pcid.iter().map(|row| row.kernel_number("instances")).collect();
        counts.sort_by(f64::total_cmp);
        counts.dedup();
        let (Some(&smallest), Some(&largest)) = (counts.first(), counts.last()) else { continue };
        let list = |mode: WindowMode, value: &dyn Fn(&Row) -> Option<f64>| -> Option<Vec<String>> {
            counts.iter().map(|&count| find(&of_pcid, pcid, mode, count).and_then(value).map(|value| format!("{value:.2}"))).collect()
        };
        let n_list = counts.iter().map(|count| count.to_string()).collect::<Vec<_>>().join(", ");
        // 1. What the global segment's window costs a warm invocation, by N.
        if let Some(global) = [WindowMode::GlobalShared, WindowMode::GlobalPrivate].into_iter().find(|&mode| find(&of_pcid, pcid, mode, largest).is_some()) {
            if let Some(window) = list(global, &Row::window_walks_per_invocation) {
                sentences.push(format!(
                    "pcid={pcid}, {}: a warm invocation walked {} times for global-segment (window) addresses at N = {n_list}.",
                    global.name(),
                    window.join(", ")
                ));
            } else if let Some(walks) = list(global, &|row: &Row| Some(row.walks_per_invocation())) {
                sentences.push(format!(
                    "pcid={pcid}, {}: a warm invocation walked {} times in all at N = {n_list} (the split into window, private and kernel walks needs the plugin's phase line version 2).",
                    global.name(),
                    walks.join(", ")
                ));
            }
        }
        // 2. How warm walks change from the smallest to the largest N, per mode.
        if smallest < largest {
            let changes: Vec<String> = WindowMode::ALL
                .iter()
                .filter_map(|&mode| {
                    let few = find(&of_pcid, pcid, mode, smallest)?.walks_per_invocation();
                    let many = find(&of_pcid, pcid, mode, largest)?.walks_per_invocation();
                    Some(format!("{few:.2} to {many:.2} with {}", mode.name()))
                })
                .collect();
            if !changes.is_empty() {
                sentences.push(format!("pcid={pcid}: from N = {smallest} to N = {largest}, warm walks per invocation went from {}.", changes.join(", ")));
            }
        }
        // 3. Global off against global on, at the largest N: with the same table sharing, and
        //    the Linux-like baseline (local-private) against shoal's proposal (global-shared).
        for (off, on) in [
            (WindowMode::LocalShared, WindowMode::GlobalShared),
            (WindowMode::LocalPrivate, WindowMode::GlobalPrivate),
            (WindowMode::LocalPrivate, WindowMode::GlobalShared),
        ] {
            let (Some(without), Some(with)) = (find(&of_pcid, pcid, off, largest), find(&of_pcid, pcid, on, largest)) else { continue };
            let (without, with) = (without.walks_per_invocation(), with.walks_per_invocation());
            let ratio = if with > 0.0 { format!("{:.1} times as many warm walks per invocation as", without / with) } else { "more warm walks per invocation than".to_owned() };
            sentences.push(format!("pcid={pcid}, N = {largest}: {} (global off) made {ratio} {} (global on): {without:.2} against {with:.2}.", off.name(), on.name()));
        }
        // 4. The cold start: a fresh instance's first invocation with the others warm.
        let baseline = [WindowMode::LocalShared, WindowMode::LocalPrivate].into_iter().find_map(|mode| Some((mode, find(&of_pcid, pcid, mode, largest)?)));
        if let (Some(with), Some((baseline, without))) = (find(&of_pcid, pcid, WindowMode::GlobalShared, largest), baseline)
            && let (Some(cold_with), Some(cold_without), Some(flushed)) = (with.cold_shared_walks(), without.cold_shared_walks(), with.cold_flushed_walks())
        {
            let saved = cold_without - cold_with;
            let share = if cold_without > 0.0 { format!(" ({:.0}%)", saved / cold_without * 100.0) } else { String::new() };
            sentences.push(format!(
                "pcid={pcid}, N = {largest}: a fresh instance's first invocation, the others warm, walked {} with global-shared against {cold_without:.0} with {}: the global segment saved {saved:.0} walks{share} of the cold start (after a full flush it walked {}).",
                times(cold_with),
                baseline.name(),
                times(flushed)
            ));
        }
        // 5. The translation overhead at the largest N.
        let overheads: Vec<String> = WindowMode::ALL
            .iter()
            .filter_map(|&mode| Some(format!("{:.2}% with {}", find(&of_pcid, pcid, mode, largest)?.translation_overhead_percent()?, mode.name())))
            .collect();
        if !overheads.is_empty() {
            sentences.push(format!("pcid={pcid}, N = {largest}: the translation overhead (an upper bound) was {}.", overheads.join(", ")));
        }
        // 6. 2 MiB window pages against 4 KiB ones, per mode, at the largest N.
        for mode in WindowMode::ALL {
            let (Some(small), Some(large)) = (find(&of_pcid, pcid, mode, largest), find_sized(&of_pcid, pcid, mode, largest, true)) else { continue };
            let window = |row: &Row| row.window_walks_per_invocation().map_or_else(String::new, |walks| format!(" ({walks:.2} of them window walks)"));
            sentences.push(format!(
                "pcid={pcid}, N = {largest}, {}: with 2 MiB pages for the runtime's read-only regions a warm invocation walked {:.2} times{} against {:.2}{} with 4 KiB pages; the cold, flushed first invocation {} against {}; page-table pages per instance {} against {}.",
                mode.name(),
                large.walks_per_invocation(),
                window(large),
                small.walks_per_invocation(),
                window(small),
                figure(large.cold_flushed_walks()),
                figure(small.cold_flushed_walks()),
                large.kernel_number("page_table_pages_per_instance"),
                small.kernel_number("page_table_pages_per_instance"),
            ));
        }
    }
    sentences
}

/// Formats `numerator / denominator` as a ratio with two decimals, `?` when either is missing
/// or the denominator is 0.
fn ratio(numerator: Option<f64>, denominator: Option<f64>) -> String {
    match (numerator, denominator) {
        (Some(numerator), Some(denominator)) if denominator > 0.0 => format!("{:.2}", numerator / denominator),
        _ => "?".to_owned(),
    }
}

/// Returns shoal's row that a baseline row is compared with: same workload and N, PCID off
/// (Linux under TCG has none), window mode `mode`, the `linux-musl` build when it ran (the same
/// file as the guest's), else the workload's other build.
fn shoal_reference<'a>(rows: &[&'a Row], baseline: &Row, mode: WindowMode) -> Option<&'a Row> {
    let candidates = || {
        rows.iter().copied().filter(move |row| {
            !is_baseline(row)
                && row.kernel_text("workload") == baseline.kernel_text("workload")
                && row.kernel_number("instances") == baseline.kernel_number("instances")
                && matches!(row.kernel_text("pcid"), "off" | "unavailable")
                && row.mode_name() == mode.name()
                && !row.large_pages()
        })
    };
    candidates().find(|row| row.kernel_text("binary") == baseline.kernel_text("binary")).or_else(|| candidates().next())
}

/// Writes the Linux-beside-shoal section: the method's differences, then per workload a table
/// of each baseline row beside shoal's global-shared (the proposal) and local-private (Linux's
/// own way of mapping a shared binary) rows with PCID off, and the ratios Linux / shoal.
pub(crate) fn baseline_section(study: &Study, rows: &[Row]) -> String {
    let mut text = String::new();
    let guest = rows.iter().find(|row| is_baseline(row));
    let _ = writeln!(
        text,
        "The same `linux-musl` workload files ran on a Linux guest (`{}`, booted with `{}`) under the same simulator and preset, driven by `linux-guest-init` (`userland/linux/guest`): the same seeds, payloads, warm-up and measured invocations and the same three phases as shoal's in-kernel driver. What differs, and is not corrected for:",
        guest.map_or("?", |row| row.kernel_text("guest_kernel")),
        guest.map_or("?", |row| row.kernel_text("guest_cmdline"))
    );
    let _ = writeln!(text, "- Linux's driver is a process: an invocation switches address spaces twice (driver, instance, driver), shoal's in-kernel driver once; the driver's own pages and the pipe system calls are in Linux's counts. The column \"of them in the driver's space\" counts the walks made while the driver's page tables were loaded (its code, data and system calls; the plugin's `walks.driver`); the rest are the instances'.");
    let _ = writeln!(text, "- Spawn instructions: shoal's spawn of one instance, and Linux's fork + execve (`posix_spawn_instructions` in the CSV: musl's posix_spawn), each from the request until the instance waits for its first invocation; the Linux driver's looks at `/proc` while it waits are counted in.");
    let _ = writeln!(text, "- Linux's timer keeps ticking in the measured rounds (shoal masks its timer in a configuration), so its counts vary slightly from run to run; shoal's repeat exactly.");
    let _ = writeln!(text, "- QEMU TCG has no PCID: every Linux context switch flushes the non-global TLB entries. The comparison is with shoal's `pcid=off` rows; shoal's simulated-PCID rows are in the tables below, not here.");
    let _ = writeln!(text, "- `linux-thp` starts the workload from a tmpfs mounted `huge=always` with transparent huge pages always on; Linux maps a file's pages with a 2 MiB page only where a mapping covers a whole aligned 2 MiB of it, which the CSV's `thp_file_kb` (and `thp_anon_kb` for anonymous memory) reports per configuration.");
    let _ = writeln!(text, "- Under Linux's default policy the driver's wake-up (when an instance writes its result) preempts an instance that has run longer than the scheduler's wake-up granularity (about a millisecond of guest time); that instance is switched in once more later, only to reach its next read, and re-walks what that path touches (the result line's `instance_preemptions` counts these switches). `linux-batch` runs the driver under `SCHED_BATCH`, whose wake-ups never preempt: an invocation then switches address spaces exactly twice.");
    let _ = writeln!(text, "- Every instance's mapped pages are populated after the warm-up (the `page_faults` column counts the faults left in the measured rounds), as shoal's instances have theirs. The cold phases start fresh processes on both kernels, faults included.");
    let _ = writeln!(text, "- `window` walks on Linux are the walks of the workload binary's read-only mappings, which sit at the same address in every instance (`norandmaps`); on shoal, of the global-segment window.\n");
    for workload in &study.workloads {
        let of_workload: Vec<&Row> = rows.iter().filter(|row| row.kernel_text("workload") == workload).collect();
        let baselines: Vec<&Row> = of_workload.iter().copied().filter(|row| is_baseline(row)).collect();
        if baselines.is_empty() {
            continue;
        }
        let _ = writeln!(text, "### `{workload}`\n");
        let _ = writeln!(text, "| kernel | N | warm walks/inv. | of them in the driver's space | CR3 writes/inv. (instance preemptions/inv.) | shoal global-shared | Linux ÷ global-shared | shoal local-private | Linux ÷ local-private | cold flushed (Linux / global-shared) | cold shared-warm (Linux / global-shared) | window walks/inv. (Linux / global-shared) | overhead % (Linux / global-shared) | page-table pages/instance (Linux / global-shared) | instructions/inv. (Linux / global-shared) | spawn instructions (Linux fork+exec / shoal) | page faults, measured |");
        let _ = writeln!(text, "|---|---:|---:|---:|---|---:|---:|---:|---:|---|---|---|---|---|---|---|---:|");
        for row in baselines {
            let global = shoal_reference(&of_workload, row, WindowMode::GlobalShared);
            let local = shoal_reference(&of_workload, row, WindowMode::LocalPrivate);
            let pair = |value: &dyn Fn(&Row) -> Option<f64>| format!("{} / {}", figure(value(row)), figure(global.and_then(value)));
            let tables = |row: &Row| Some(row.kernel_number("page_table_pages_per_instance"));
            let _ = writeln!(
                text,
                "| {} | {} | {:.2} | {} | {} ({}) | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                row.kernel_text("kernel"),
                row.kernel_number("instances"),
                row.walks_per_invocation(),
                figure(row.driver_walks_per_invocation()),
                figure(row.cr3_writes_per_invocation()),
                figure(row.preemptions_per_invocation()),
                figure(global.map(Row::walks_per_invocation)),
                ratio(Some(row.walks_per_invocation()), global.map(Row::walks_per_invocation)),
                figure(local.map(Row::walks_per_invocation)),
                ratio(Some(row.walks_per_invocation()), local.map(Row::walks_per_invocation)),
                pair(&Row::cold_flushed_walks),
                pair(&Row::cold_shared_walks),
                pair(&Row::window_walks_per_invocation),
                pair(&Row::translation_overhead_percent),
                pair(&tables),
                pair(&Row::instructions_per_invocation),
                pair(&Row::spawn_instructions),
                row.kernel_text("page_faults"),
            );
        }
        let _ = writeln!(text);
    }
    text
}

/// Returns the plugin-slowdown sentences: per run without the plugin, the matching simulated
/// row's cycles per invocation over its own.
pub(crate) fn slowdown(rows: &[Row], plain: &[Row]) -> Vec<String> {
    plain
        .iter()
        .map(|without| {
            // The mode label carries the PCID setting and the leaf size (`2M`): a slowdown compares
            // the very configuration, never a 2 MiB row with a 4 KiB one or a Linux row.
            let key = |row: &Row| (row.kernel_text("workload").to_owned(), row.kernel_text("kernel").to_owned(), row.mode(), row.kernel_number("instances"));
            let label = format!("{} pcid={} {} N = {}", without.kernel_text("workload"), without.kernel_text("pcid"), without.mode_name(), without.kernel_number("instances"));
            let cycles_without = without.kernel_number("cycles_per_invocation");
            match rows.iter().find(|row| key(row) == key(without)) {
                Some(with) if cycles_without > 0.0 => {
                    let cycles_with = with.kernel_number("cycles_per_invocation");
                    format!(
                        "{label}: {cycles_with:.0} TCG cycles per warm invocation under the plugin, {cycles_without:.0} without: the plugin slows the guest {:.1}x.",
                        cycles_with / cycles_without
                    )
                }
                _ => format!("{label}: no matching measurement with the plugin, or no cycles counted without it."),
            }
        })
        .collect()
}

/// Returns the host CPU's model name and QEMU's version line.
fn machine() -> (String, String) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| text.lines().find(|line| line.starts_with("model name")).map(|line| line.split(':').nth(1).unwrap_or("").trim().to_owned()))
        .unwrap_or_else(|| "unknown".into());
    let qemu = Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .ok()
        .map(|output| String::from_utf8_lossy(&output.stdout).lines().next().unwrap_or("").to_owned())
        .unwrap_or_default();
    (cpu, qemu)
}

/// Says what one invocation of `workload` does.
fn workload_description(workload: &str) -> &'static str {
    match workload {
        "synth-small" => "synthetic runtime, 1 MiB of code and 1 MiB of read-only data; each invocation calls 32 random code pages and reads 32 random data pages",
        "synth-medium" => "synthetic runtime, 8 MiB of code and 8 MiB of read-only data; each invocation calls 32 random code pages and reads 32 random data pages",
        "synth-large" => "synthetic runtime, 64 MiB of code and 64 MiB of read-only data (the size class of a Node runtime); each invocation calls 32 random code pages and reads 32 random data pages",
        "wasm-runtime" => "the WebAssembly runtime (wasmi) hosting eight handlers; instance i serves handler i mod 8, each invocation runs the handler once on a seeded input and checks its answer",
        "js-runtime" => "the JavaScript runtime (QuickJS, a Linux musl static-pie on shoal's Linux personality) hosting the same eight handlers written in JavaScript; instance i serves handler i mod 8; its clock and random numbers are deterministic in the study",
        "lua-runtime" => "the Lua 5.4 runtime (a Linux musl static-pie on shoal's Linux personality, built with a fixed string-hash seed) hosting the same eight handlers written in Lua; instance i serves handler i mod 8; its clock and random numbers are deterministic in the study",
        _ => "a workload this version of the host tool does not describe",
    }
}

/// Writes the Markdown report.
pub(crate) fn report(study: &Study, shard: Shard, source: &str, rows: &[Row], plain: &[Row], geometry: &str) -> String {
    let (cpu, qemu) = machine();
    let cost = rows.iter().find(|row| !row.cost.is_empty()).map(|row| &row.cost);
    let engine = rows.first().map_or("?", |row| row.kernel_text("engine"));
    let mut text = String::new();
    let _ = writeln!(text, "# shoal density study\n");
    if shard != Shard::WHOLE {
        let _ = writeln!(text, "**Shard {shard} of the study**: only every {}th configuration; `shoal bench merge` joins the shards.\n", shard.count);
    }
    let _ = writeln!(text, "- results schema version {SCHEMA_VERSION} (`docs/result-schema.md`); one QEMU boot per configuration");
    let _ = writeln!(text, "- source revision: `{source}` (what the tool and its images were built from; `-dirty`: the work tree differed from that commit)");
    let _ = writeln!(text, "- host CPU: {cpu}; emulator: {qemu}; engine reported by the kernel: `{engine}`");
    let _ = writeln!(text, "- TLB model: tlbsim preset `{}` — `{geometry}`", study.preset);
    match cost {
        Some(cost) => {
            let words: Vec<String> = cost.iter().map(|(key, value)| format!("{key}={value}")).collect();
            let _ = writeln!(text, "- walk-cost model: `tlbsim cost {}`", words.join(" "));
        }
        None => {
            let _ = writeln!(text, "- walk-cost model: none reported (the plugin printed no `tlbsim cost` line; the cost columns are empty)");
        }
    }
    let modes: Vec<&str> = study.modes.iter().map(|mode| mode.name()).collect();
    let _ = writeln!(
        text,
        "- workloads {}; instances {}; window modes {}; PCID {}; closed loop, round-robin on one core; each configuration boots on its own, starts from invalidated TLBs and runs with the timer masked, so its simulated counts repeat exactly\n",
        study.workloads.join(", "),
        super::instance_list(&study.instances),
        modes.join(", "),
        study.pcid.join(", ")
    );

    let _ = writeln!(text, "## Method\n");
    let warm_length = match study.rounds {
        Some(rounds) => format!("{rounds} rounds of all N instances of warm-up (the CSV's `warmup_invocations` is the number run), then the simulator's counters are zeroed *without* emptying its TLBs and {rounds} measured rounds run ({rounds} x N invocations)"),
        None => format!("{} warm-up invocations (rounded up to whole rounds of all N instances, at least one round; the CSV's `warmup_invocations` is the number run), then the simulator's counters are zeroed *without* emptying its TLBs and {} measured invocations (whole rounds) run", study.warmup, study.invocations),
    };
    let _ = writeln!(text, "- **Warm** (the steady state): {warm_length}. Walks per invocation over those are the warm figures.");
    let _ = writeln!(text, "- **Convergence check**: the default warm-up (512) and measured invocations (1024) were checked against a four times longer warm-up (`--warmup 2048`) for the synthetic runtimes; the criterion is that walks per warm invocation agree within 2% or 0.05 walks (the figures are in the README, \"The TLB simulator and the density study\"). A run with other values or workloads should repeat that check: raise `--warmup` and compare `walks_per_invocation`.");
    let _ = writeln!(text, "- **Cold, shared-warm**: right after the warm phase, a fresh instance's first invocation while the other instances' translations are still cached (with the global segment, the runtime's global entries serve it). **Cold, flushed**: another fresh instance's first invocation after every TLB entry, globals included, was invalidated. Each is one invocation; process creation is not counted.");
    let _ = writeln!(text, "- **Cost model** (tlbsim's walk-cost model, `tlbsim/src/cost/`): each walk looks up paging-structure caches (longest prefix first), and each remaining page-table reference costs the load-to-use latency of the cache level that holds it (L1D, L2, LLC, memory); references are dependent, so their latencies add. The STLB lookup, the walker's pipeline and any overlap of walks with other work are not modelled. Base CPI {}: an assumption for the cycles of everything but the walks, not a measurement.", cost.and_then(|cost| cost.get("base_cpi")).map_or_else(|| study.base_cpi.clone().unwrap_or_else(|| "(the plugin's default)".into()), Clone::clone));
    let _ = writeln!(text, "- **Translation overhead** = walk cycles / (instructions x base CPI + walk cycles): an **upper bound**, since an out-of-order core overlaps part of each walk with other work.");
    let _ = writeln!(text, "- **Engine**: `{engine}`. Walk and instruction counts come from the deterministic simulator. `cycles_per_invocation` and `spawn_cycles` are TSC cycles of the emulator: under QEMU TCG they are emulated, not hardware figures (TCG's TSC follows host time, so they vary between runs). `pmu` says whether hardware counters were read; under TCG there is no PMU.");
    let _ = writeln!(text, "- `pcid=simulated`: QEMU TCG has no PCID; the kernel tags address spaces and the simulator models CR4.PCIDE=1. `pcid=off`/`unavailable`: every address-space switch flushes the non-global entries.");
    if study.large_pages.iter().any(|value| value == "on") {
        let _ = writeln!(text, "- **2 MiB window pages** (rows and series marked `2M`, crosses in the charts; the kernel's `large_pages=on`): every read-only 2 MiB region of a loaded binary is one 2 MiB page (a page-directory leaf, global with `global=on`), its pages moved into one aligned 2 MiB block whose unused frames are zeroed and mapped with it, once per binary, not per process. Private memory (stack, data, heap) stays in 4 KiB pages. The simulator holds 2 MiB translations in the preset's 2 MiB arrays (skylake-client: 8 iTLB and 32 dTLB entries, and the 1536-entry STLB shared with 4 KiB pages).");
    }
    let _ = writeln!(text);

    let _ = writeln!(text, "## Findings (computed from the rows below)\n");
    for workload in &study.workloads {
        let of_workload: Vec<&Row> = rows.iter().filter(|row| row.kernel_text("workload") == workload && !is_baseline(row)).collect();
        let builds = builds(&of_workload);
        if builds.is_empty() {
            let _ = writeln!(text, "- `{workload}`: no configuration measured in this folder.");
        }
        for build in &builds {
            let of_build: Vec<&Row> = of_workload.iter().copied().filter(|row| row.kernel_text("binary") == build).collect();
            let name = if builds.len() > 1 { format!("`{workload}` ({build})") } else { format!("`{workload}`") };
            for sentence in findings(&of_build) {
                let _ = writeln!(text, "- {name}, {sentence}");
            }
        }
    }

    if !study.baselines.is_empty() {
        let _ = writeln!(text, "\n## Linux beside shoal\n");
        text.push_str(&baseline_section(study, rows));
    }

    let _ = writeln!(text, "\n## Plugin slowdown\n");
    if plain.is_empty() {
        let _ = writeln!(text, "Not measured (`--no-plugin-slowdown`, or this shard holds no run without the plugin).");
    } else {
        let _ = writeln!(text, "One boot per workload ran the same configuration on plain QEMU TCG, without the plugin. TCG cycles follow host time, and boots that run in parallel share the host's cores, so the ratio is approximate.\n");
        for sentence in slowdown(rows, plain) {
            let _ = writeln!(text, "- {sentence}");
        }
    }

    let _ = writeln!(text, "\n## Workloads\n");
    for workload in &study.workloads {
        let _ = writeln!(text, "- `{workload}`: {}", workload_description(workload));
    }
    for workload in &study.workloads {
        let _ = writeln!(text, "\n## Results: `{workload}`\n");
        let _ = writeln!(text, "| mode | N | warm walks/inv. | window | private | kernel | walks/1000 instr. | overhead % | cold (flushed) | cold (shared-warm) | page-table pages/instance | frames/instance | spawn cycles (TCG) |");
        let _ = writeln!(text, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        let of_workload: Vec<&Row> = rows.iter().filter(|row| row.kernel_text("workload") == workload).collect();
        let several_builds = builds(&of_workload).len() > 1;
        for row in of_workload {
            let instances = row.kernel_number("instances");
            let _ = writeln!(
                text,
                "| {} | {instances} | {:.2} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {} |",
                label(row, several_builds),
                row.walks_per_invocation(),
                figure(row.window_walks_per_invocation()),
                figure(row.private_walks_per_invocation()),
                figure(row.kernel_walks_per_invocation()),
                figure(row.walks_per_kilo_instruction()),
                figure(row.translation_overhead_percent()),
                row.cold_flushed_walks().map_or("?".into(), |walks| format!("{walks:.0}")),
                row.cold_shared_walks().map_or("?".into(), |walks| format!("{walks:.0}")),
                row.kernel_number("page_table_pages_per_instance"),
                row.kernel_number("frames") / instances.max(1.0),
                row.kernel_number("spawn_cycles")
            );
        }
        let _ = writeln!(text);
        for (stem, title) in super::CHARTS {
            let _ = writeln!(text, "![{title}]({workload}-{stem}.svg)\n");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::rows::join;

    /// Result lines of one workload, pcid=simulated, two modes at N = 1 and 64, with a
    /// version-2 plugin's phase lines.
    fn rows() -> Vec<Row> {
        let mut kernel = String::new();
        let mut plugin = String::from("tlbsim geometry v=1\ntlbsim cost v=1 preset=skylake-client psc=nominal data=on base_cpi=1.000\n");
        let mut id = 100;
        for (global, instances, warm_walks, window, cold_shared, cold_flushed, walk_cycles) in
            [(1, 1, 0, 0, 0, 94, 0), (1, 64, 90, 6, 0, 94, 900), (0, 1, 0, 0, 57, 94, 0), (0, 64, 4200, 2100, 57, 94, 42000)]
        {
            let invocations = 64;
            kernel.push_str(&format!("result: density id={id} workload=synth-small global={global} share_tables=1 pcid=simulated instances={instances} invocations={invocations} cycles_per_invocation=3000 cold_shared_id={} cold_flushed_id={} engine=tcg page_table_pages_per_instance=6 frames=60\n", id + 1, id + 2));
            plugin.push_str(&format!("tlbsim phase v=2 id={id} i.walks_4k={warm_walks} instructions.user=6400 instructions.kernel=0 walks.window={window} walks.private=0 walks.kernel=0 cost.walk_cycles={walk_cycles}\n"));
            plugin.push_str(&format!("tlbsim phase v=2 id={} d.walks_4k={cold_shared}\ntlbsim phase v=2 id={} d.walks_4k={cold_flushed}\n", id + 1, id + 2));
            id += 3;
        }
        join(&kernel, &plugin)
    }

    #[test]
    fn findings_are_computed_from_the_numbers() {
        let rows = rows();
        let refs: Vec<&Row> = rows.iter().collect();
        assert_eq!(
            findings(&refs),
            [
                "pcid=simulated, global-shared: a warm invocation walked 0.00, 0.09 times for global-segment (window) addresses at N = 1, 64.",
                "pcid=simulated: from N = 1 to N = 64, warm walks per invocation went from 0.00 to 1.41 with global-shared, 0.00 to 65.62 with local-shared.",
                "pcid=simulated, N = 64: local-shared (global off) made 46.7 times as many warm walks per invocation as global-shared (global on): 65.62 against 1.41.",
                "pcid=simulated, N = 64: a fresh instance's first invocation, the others warm, walked 0 times with global-shared against 57 with local-shared: the global segment saved 57 walks (100%) of the cold start (after a full flush it walked 94 times).",
                "pcid=simulated, N = 64: the translation overhead (an upper bound) was 12.33% with global-shared, 86.78% with local-shared.",
            ]
        );
    }

    #[test]
    fn rows_with_2_mib_window_pages_are_compared_with_their_4_kib_twins_and_nothing_else() {
        let mut rows = rows();
        // The same four configurations again with large_pages=1: fewer window walks, no
        // read-only tables (one page-table page less per instance).
        let large_kernel = "result: density id=200 workload=synth-small global=1 share_tables=1 large_pages=1 pcid=simulated instances=64 invocations=64 cycles_per_invocation=3000 cold_shared_id=201 cold_flushed_id=202 engine=tcg page_table_pages_per_instance=5 frames=60\n";
        let large_plugin = "tlbsim phase v=2 id=200 i.walks_4k=70 instructions.user=6400 instructions.kernel=0 walks.window=1 walks.private=0 walks.kernel=0 cost.walk_cycles=700\ntlbsim phase v=2 id=201 d.walks_4k=0\ntlbsim phase v=2 id=202 d.walks_4k=80\n";
        rows.extend(join(large_kernel, large_plugin));
        let refs: Vec<&Row> = rows.iter().collect();
        let sentences = findings(&refs);
        assert_eq!(sentences.len(), 6, "{sentences:?}");
        assert_eq!(
            sentences[5],
            "pcid=simulated, N = 64, global-shared: with 2 MiB pages for the runtime's read-only regions a warm invocation walked 1.09 times (0.02 of them window walks) against 1.41 (0.09 of them window walks) with 4 KiB pages; the cold, flushed first invocation 80.00 against 94.00; page-table pages per instance 5 against 6."
        );
        // The other findings still compare the 4 KiB rows only.
        assert!(sentences[2].ends_with("65.62 against 1.41."), "{}", sentences[2]);
        let labels: Vec<String> = series(&refs, |row| Some(row.walks_per_invocation())).into_iter().map(|series| format!("{} {}", series.label, series.marker)).collect();
        assert_eq!(labels, ["global-shared pcid=simulated 0", "local-shared pcid=simulated 0", "global-shared 2M pcid=simulated 3"]);
    }

    #[test]
    fn without_a_same_sharing_pair_the_baseline_is_compared_with_the_proposal() {
        let mut rows = rows();
        for row in rows.iter_mut().filter(|row| row.kernel_text("global") == "0") {
            row.kernel.insert("share_tables".into(), "0".into());
        }
        let refs: Vec<&Row> = rows.iter().collect();
        let sentences = findings(&refs);
        assert_eq!(
            sentences[2],
            "pcid=simulated, N = 64: local-private (global off) made 46.7 times as many warm walks per invocation as global-shared (global on): 65.62 against 1.41."
        );
        assert!(sentences[3].contains("walked 0 times with global-shared against 57 with local-private: the global segment saved 57 walks (100%)"), "{}", sentences[3]);
    }

    #[test]
    fn the_slowdown_compares_the_same_configuration_with_and_without_the_plugin() {
        let rows = rows();
        let plain = join("result: density id=100 workload=synth-small global=1 share_tables=1 pcid=simulated instances=64 cycles_per_invocation=600\n", "");
        assert_eq!(
            slowdown(&rows, &plain),
            ["synth-small pcid=simulated global-shared N = 64: 3000 TCG cycles per warm invocation under the plugin, 600 without: the plugin slows the guest 5.0x."]
        );
        // A 2 MiB row of the same mode and N listed first is not the 4 KiB plain run's twin.
        let mut with_large = join("result: density id=300 workload=synth-small global=1 share_tables=1 large_pages=1 pcid=simulated instances=64 cycles_per_invocation=9000\n", "");
        with_large.extend(rows);
        assert!(slowdown(&with_large, &plain)[0].contains("3000 TCG cycles per warm invocation under the plugin"));
    }

    #[test]
    fn series_follow_the_modes_with_pcid_off_dashed() {
        let mut rows = rows();
        rows[0].kernel.insert("pcid".into(), "off".into());
        let refs: Vec<&Row> = rows.iter().collect();
        let walks = series(&refs, |row| Some(row.walks_per_invocation()));
        let labels: Vec<(&str, Option<usize>, bool, usize)> =
            walks.iter().map(|series| (series.label.as_str(), series.colour, series.dashed, series.points.len())).collect();
        assert!(walks.iter().all(|series| series.marker == 0), "one build: circles");
        assert_eq!(
            labels,
            [
                ("global-shared pcid=off", Some(0), true, 1),
                ("global-shared pcid=simulated", Some(0), false, 1),
                ("local-shared pcid=simulated", Some(1), false, 2)
            ]
        );
        assert!(panels("overhead", &refs)[0].series.len() == 3);
        assert_eq!(panels("cold", &refs).len(), 2);
    }

    #[test]
    fn a_linux_row_is_set_beside_shoals_pcid_off_rows_of_the_same_file() {
        let kernel = "result: density id=100 workload=synth-small binary=linux-musl global=1 share_tables=1 pcid=off instances=4 invocations=8 cold_shared_id=101 cold_flushed_id=102 page_table_pages_per_instance=7\n\
                      result: density id=103 workload=synth-small binary=linux-musl global=0 share_tables=0 pcid=off instances=4 invocations=8 cold_shared_id=104 cold_flushed_id=105 page_table_pages_per_instance=7\n\
                      result: density id=106 workload=synth-small binary=native global=1 share_tables=1 pcid=off instances=4 invocations=8 cold_shared_id=107 cold_flushed_id=108\n";
        let plugin = "tlbsim phase v=2 id=100 i.walks_4k=16\ntlbsim phase v=2 id=102 d.walks_4k=100\ntlbsim phase v=2 id=103 i.walks_4k=480\ntlbsim phase v=2 id=106 i.walks_4k=8\n";
        let mut rows = join(kernel, plugin);
        let linux = "result: density id=100 workload=synth-small binary=linux-musl kernel=linux guest_kernel=6.1.0-50-amd64 global=0 share_tables=0 pcid=unavailable instances=4 invocations=8 cold_shared_id=101 cold_flushed_id=102 page_table_pages_per_instance=8 page_faults=0 instance_preemptions=4\n";
        let mut linux_rows = join(linux, "tlbsim phase v=2 id=100 i.walks_4k=640 cr3_writes=20\ntlbsim phase v=2 id=102 d.walks_4k=150\n");
        linux_rows[0].kernel.insert("guest_cmdline".into(), "console=ttyS0 quiet".into());
        rows.extend(linux_rows);
        assert_eq!(rows[0].kernel_text("kernel"), "shoal", "shoal's line names no kernel");
        let mut study = crate::bench::tests::study();
        study.workloads = vec!["synth-small".into()];
        study.baselines = vec!["linux".into()];
        let text = baseline_section(&study, &rows);
        assert!(text.contains("(`6.1.0-50-amd64`, booted with `console=ttyS0 quiet`)"), "{text}");
        // 80 walks per invocation against the musl file's 2 (global-shared) and 60 (local-private).
        assert!(text.contains("| linux | 4 | 80.00 | ? | 2.50 (0.50) | 2.00 | 40.00 | 60.00 | 1.33 | 150.00 / 100.00 | "), "{text}");
        let refs: Vec<&Row> = rows.iter().collect();
        let walks = series(&refs, |row| Some(row.walks_per_invocation()));
        let linux_series = walks.iter().find(|series| series.label == "linux").expect("a Linux series");
        assert_eq!((linux_series.colour, linux_series.dashed, linux_series.marker), (Some(4), true, 2));
    }

    #[test]
    fn a_second_build_gets_its_own_series_and_findings() {
        let mut rows = rows();
        for row in &mut rows[..2] {
            row.kernel.insert("binary".into(), "native".into());
        }
        for row in &mut rows[2..] {
            row.kernel.insert("binary".into(), "linux-musl".into());
            row.kernel.insert("global".into(), "1".into());
        }
        let refs: Vec<&Row> = rows.iter().collect();
        assert_eq!(builds(&refs), ["native", "linux-musl"]);
        let walks = series(&refs, |row| Some(row.walks_per_invocation()));
        let labels: Vec<(&str, usize)> = walks.iter().map(|series| (series.label.as_str(), series.marker)).collect();
        assert_eq!(labels, [("global-shared pcid=simulated native", 0), ("global-shared pcid=simulated linux-musl", 1)]);
        assert!(walks.iter().all(|series| series.points.len() == 2), "each build's own points");
    }
}
