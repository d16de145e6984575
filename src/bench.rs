//! `shoal bench`: the density study on the host side.
//!
//! It boots the kernel's `density` suite from the bench image (`SHOAL_BENCH_IMAGE`, the one
//! with the 64 MiB runtime) under the tlbsim plugin, once per workload and PCID setting
//! (simulated PCID on, and off), shows progress as configurations finish, joins each kernel
//! `result: density id=...` line with the plugin's `tlbsim phase v=1 id=...` line of the same
//! phase, and writes a results folder:
//! - `results.csv`: one row per configuration with every figure;
//! - per workload `<workload>-walks.svg`/`.png`: page walks per invocation against the number
//!   of instances (log scale), one line per mode; `<workload>-page-tables.svg`/`.png`:
//!   page-table pages per instance; `<workload>-saved.svg`/`.png`: the share of walks the
//!   global segment saves (global=off versus on);
//! - `report.md`: the machine, the engine, the TLB preset, what each figure means, the tables.
//!
//! Same input, same counts: the walk counts come from the deterministic simulator; cycle counts
//! are the emulator's and are labelled as such.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One configuration: the kernel's result fields joined with the simulator's counters of its
/// three phases.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Row {
    /// The kernel's `key=value` fields (workload, global, share_tables, pcid, instances, ...).
    pub(crate) kernel: BTreeMap<String, String>,
    /// The simulator's `key=value` fields of the warm phase (i.walks_4k, d.walks_4k, ...).
    pub(crate) simulator: BTreeMap<String, String>,
    /// The same for the cold, shared-warm phase (one fresh instance's first invocation).
    pub(crate) cold_shared: BTreeMap<String, String>,
    /// The same for the cold, flushed phase (one fresh instance's first invocation after a full
    /// flush).
    pub(crate) cold_flushed: BTreeMap<String, String>,
}

impl Row {
    fn number(map: &BTreeMap<String, String>, key: &str) -> f64 {
        map.get(key).and_then(|value| value.parse().ok()).unwrap_or(0.0)
    }

    /// Returns a kernel field as a number (0 when absent).
    pub(crate) fn kernel_number(&self, key: &str) -> f64 {
        Self::number(&self.kernel, key)
    }

    /// Returns the page walks (all page sizes) of `side` (`i` or `d`) in a phase's counters.
    fn phase_walks(phase: &BTreeMap<String, String>, side: &str) -> f64 {
        ["walks_4k", "walks_2m", "walks_1g"].iter().map(|size| Self::number(phase, &format!("{side}.{size}"))).sum()
    }

    /// Returns the warm phase's page walks (all page sizes) of `side` (`i` or `d`).
    pub(crate) fn walks(&self, side: &str) -> f64 {
        Self::phase_walks(&self.simulator, side)
    }

    /// Returns warm page walks per invocation, instruction plus data.
    pub(crate) fn walks_per_invocation(&self) -> f64 {
        let invocations = self.kernel_number("invocations").max(1.0);
        (self.walks("i") + self.walks("d")) / invocations
    }

    /// Returns the page walks of a cold phase (one invocation), instruction plus data; `None`
    /// when the simulator did not report the phase.
    fn cold_walks(phase: &BTreeMap<String, String>) -> Option<f64> {
        (!phase.is_empty()).then(|| Self::phase_walks(phase, "i") + Self::phase_walks(phase, "d"))
    }

    /// Returns the mode label, e.g. `pcid=simulated global=1 share=1`.
    pub(crate) fn mode(&self) -> String {
        format!(
            "pcid={} global={} share={}",
            self.kernel.get("pcid").map_or("?", String::as_str),
            self.kernel.get("global").map_or("?", String::as_str),
            self.kernel.get("share_tables").map_or("?", String::as_str)
        )
    }
}

/// Parses `key=value` words after a fixed prefix.
fn fields(line: &str, prefix: &str) -> Option<BTreeMap<String, String>> {
    let rest = line.trim().strip_prefix(prefix)?;
    Some(rest.split_whitespace().filter_map(|word| word.split_once('=')).map(|(key, value)| (key.to_owned(), value.to_owned())).collect())
}

/// Joins kernel result lines with simulator phase lines by phase id.
pub(crate) fn join(kernel_output: &str, simulator_output: &str) -> Vec<Row> {
    let phases: BTreeMap<String, BTreeMap<String, String>> = simulator_output
        .lines()
        .filter_map(|line| fields(line, "tlbsim phase "))
        .filter_map(|fields| Some((fields.get("id")?.clone(), fields)))
        .collect();
    kernel_output
        .lines()
        .filter_map(|line| fields(line, "result: density "))
        .map(|kernel| {
            let phase = |key: &str| kernel.get(key).and_then(|id| phases.get(id)).cloned().unwrap_or_default();
            Row { simulator: phase("id"), cold_shared: phase("cold_shared_id"), cold_flushed: phase("cold_flushed_id"), kernel }
        })
        .collect()
}

/// The CSV columns: kernel fields, then the PMU events any row carries (`pmu.<event>`), then
/// simulator fields, then derived figures.
const KERNEL_COLUMNS: [&str; 16] = [
    "id", "workload", "pcid", "global", "share_tables", "instances", "warmup_invocations", "rounds", "invocations",
    "cycles_per_invocation", "engine", "pmu", "page_table_pages", "page_table_pages_per_instance", "frames", "spawn_cycles",
];
const SIMULATOR_COLUMNS: [&str; 12] = [
    "i.accesses", "i.l1_misses", "i.stlb_hits", "i.walks_4k", "i.walks_2m", "i.walk_memory_references",
    "d.accesses", "d.l1_misses", "d.stlb_hits", "d.walks_4k", "d.walks_2m", "d.walk_memory_references",
];

/// Writes the rows as CSV.
pub(crate) fn csv(rows: &[Row]) -> String {
    let pmu_columns: std::collections::BTreeSet<&str> =
        rows.iter().flat_map(|row| row.kernel.keys()).map(String::as_str).filter(|key| key.starts_with("pmu.")).collect();
    let kernel_columns: Vec<&str> = KERNEL_COLUMNS.iter().copied().chain(pmu_columns).collect();
    let mut out = String::new();
    let header: Vec<&str> = kernel_columns
        .iter()
        .chain(SIMULATOR_COLUMNS.iter())
        .copied()
        .chain(["walks_per_invocation", "cold_walks_per_invocation", "cold_shared_walks_per_invocation"])
        .collect();
    let _ = writeln!(out, "{}", header.join(","));
    let optional = |value: Option<f64>| value.map(|value| format!("{value:.3}")).unwrap_or_default();
    for row in rows {
        let mut cells: Vec<String> = kernel_columns.iter().map(|key| row.kernel.get(*key).cloned().unwrap_or_default()).collect();
        cells.extend(SIMULATOR_COLUMNS.iter().map(|key| row.simulator.get(*key).cloned().unwrap_or_default()));
        cells.push(format!("{:.3}", row.walks_per_invocation()));
        cells.push(optional(Row::cold_walks(&row.cold_flushed)));
        cells.push(optional(Row::cold_walks(&row.cold_shared)));
        let _ = writeln!(out, "{}", cells.join(","));
    }
    out
}

/// A line of a chart: its label and (x, y) points.
pub(crate) struct Series {
    /// The legend text.
    pub(crate) label: String,
    /// Points, x ascending.
    pub(crate) points: Vec<(f64, f64)>,
}

/// Colours for up to eight series.
const COLOURS: [&str; 8] = ["#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#6a4c93", "#00798c", "#8d6a9f", "#3d3d3d"];

/// Draws a line chart as SVG: x on a log2 scale, y linear from 0.
pub(crate) fn svg_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    const WIDTH: f64 = 880.0;
    const HEIGHT: f64 = 440.0;
    const LEFT: f64 = 70.0;
    const RIGHT: f64 = 330.0;
    const TOP: f64 = 40.0;
    const BOTTOM: f64 = 60.0;
    let all: Vec<(f64, f64)> = series.iter().flat_map(|line| line.points.iter().copied()).collect();
    let x_max = all.iter().map(|point| point.0).fold(1.0, f64::max).max(2.0);
    let y_max = all.iter().map(|point| point.1).fold(0.0, f64::max).max(1e-9) * 1.1;
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let x_of = |x: f64| LEFT + x.max(1.0).log2() / x_max.log2() * plot_width;
    let y_of = |y: f64| TOP + plot_height - y / y_max * plot_height;
    let mut svg = String::new();
    let _ = writeln!(svg, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#);
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(svg, r#"<text x="{}" y="22" font-size="15" text-anchor="middle">{}</text>"#, LEFT + plot_width / 2.0, escape(title));
    let _ = writeln!(svg, r#"<line x1="{LEFT}" y1="{}" x2="{}" y2="{}" stroke="black"/>"#, TOP + plot_height, LEFT + plot_width, TOP + plot_height);
    let _ = writeln!(svg, r#"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{}" stroke="black"/>"#, TOP + plot_height);
    let mut tick = 1.0;
    while tick <= x_max {
        let x = x_of(tick);
        let _ = writeln!(svg, r#"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="black"/><text x="{x}" y="{}" text-anchor="middle">{tick}</text>"#, TOP + plot_height, TOP + plot_height + 5.0, TOP + plot_height + 20.0);
        tick *= 2.0;
    }
    for step in 0..=4 {
        let value = y_max / 1.1 * f64::from(step) / 4.0;
        let y = y_of(value);
        let _ = writeln!(svg, r##"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="#dddddd"/><text x="{}" y="{}" text-anchor="end">{}</text>"##, LEFT, LEFT + plot_width, LEFT - 6.0, y + 4.0, format_value(value));
    }
    let _ = writeln!(svg, r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#, LEFT + plot_width / 2.0, HEIGHT - 15.0, escape(x_label));
    let _ = writeln!(svg, r#"<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>"#, TOP + plot_height / 2.0, TOP + plot_height / 2.0, escape(y_label));
    for (index, line) in series.iter().enumerate() {
        let colour = COLOURS[index % COLOURS.len()];
        let path: Vec<String> = line.points.iter().map(|&(x, y)| format!("{:.1},{:.1}", x_of(x), y_of(y))).collect();
        let _ = writeln!(svg, r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#, path.join(" "));
        for &(x, y) in &line.points {
            let _ = writeln!(svg, r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"/>"#, x_of(x), y_of(y));
        }
        let legend_y = TOP + 16.0 * index as f64;
        let _ = writeln!(svg, r#"<line x1="{}" y1="{legend_y}" x2="{}" y2="{legend_y}" stroke="{colour}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#, WIDTH - RIGHT + 15.0, WIDTH - RIGHT + 35.0, WIDTH - RIGHT + 40.0, legend_y + 4.0, escape(&line.label));
    }
    svg.push_str("</svg>\n");
    svg
}

fn format_value(value: f64) -> String {
    if value >= 100.0 { format!("{value:.0}") } else if value >= 1.0 { format!("{value:.1}") } else { format!("{value:.2}") }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Groups rows by mode into series of (instances, value).
pub(crate) fn series_by_mode(rows: &[Row], value: impl Fn(&Row) -> f64) -> Vec<Series> {
    let mut grouped: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for row in rows {
        grouped.entry(row.mode()).or_default().push((row.kernel_number("instances"), value(row)));
    }
    grouped
        .into_iter()
        .map(|(label, mut points)| {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            Series { label, points }
        })
        .collect()
}

/// Returns, per PCID setting and share mode, the share of walks per invocation that global=on
/// saves against global=off, by instance count.
pub(crate) fn saved_series(rows: &[Row]) -> Vec<Series> {
    let mut by_key: BTreeMap<(String, String, u64), [Option<f64>; 2]> = BTreeMap::new();
    for row in rows {
        let key = (
            row.kernel.get("pcid").cloned().unwrap_or_default(),
            row.kernel.get("share_tables").cloned().unwrap_or_default(),
            row.kernel_number("instances") as u64,
        );
        let global = usize::from(row.kernel.get("global").map(String::as_str) == Some("1"));
        by_key.entry(key).or_default()[global] = Some(row.walks_per_invocation());
    }
    let mut grouped: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for ((pcid, share, instances), values) in by_key {
        if let [Some(without), Some(with)] = values {
            let saved = if without > 0.0 { (without - with) / without * 100.0 } else { 0.0 };
            grouped.entry(format!("pcid={pcid} share={share}")).or_default().push((instances as f64, saved));
        }
    }
    grouped.into_iter().map(|(label, points)| Series { label, points }).collect()
}

/// What `shoal bench` needs.
pub(crate) struct BenchOptions {
    /// `qemu-runner.sh`.
    pub(crate) runner: PathBuf,
    /// The UEFI bench image.
    pub(crate) image: PathBuf,
    /// The tlbsim plugin.
    pub(crate) plugin: PathBuf,
    /// The results folder.
    pub(crate) out_dir: PathBuf,
    /// The TLB preset.
    pub(crate) preset: String,
    /// The workload binaries, each one boot per PCID setting.
    pub(crate) workloads: Vec<String>,
    /// The instance counts, ascending.
    pub(crate) instances: Vec<u32>,
    /// Warm-up invocations per configuration (the kernel rounds up to whole rounds).
    pub(crate) warmup: u32,
    /// Measured invocations per configuration (the kernel rounds up to whole rounds).
    pub(crate) invocations: u32,
    /// PCID settings to run: `on` (simulated under TCG) and/or `off`.
    pub(crate) pcid: Vec<String>,
    /// Per-boot timeout in seconds.
    pub(crate) timeout_seconds: u32,
    /// Guest memory in MiB.
    pub(crate) memory_mib: u32,
}

/// Workloads the bench image carries.
pub(crate) const WORKLOADS: [&str; 4] = ["synth-small", "synth-medium", "synth-large", "wasm-runtime"];

/// Checks the options before anything boots, with a message naming the bad value.
///
/// # Errors
/// Returns the message.
pub(crate) fn check(options: &BenchOptions) -> Result<(), String> {
    const MAX_COUNTS: usize = 16;
    const MAX_INSTANCES: u32 = 65536;
    const MAX_INVOCATIONS: u32 = 10_000_000;
    if options.workloads.is_empty() {
        return Err("no workload given".into());
    }
    if let Some(unknown) = options.workloads.iter().find(|workload| !WORKLOADS.contains(&workload.as_str())) {
        return Err(format!("unknown workload \"{unknown}\"; known: {}", WORKLOADS.join(" ")));
    }
    if options.instances.is_empty() || options.instances.len() > MAX_COUNTS {
        return Err(format!("--instances takes 1 to {MAX_COUNTS} counts, not {}", options.instances.len()));
    }
    if options.instances.iter().any(|&count| count == 0 || count > MAX_INSTANCES) || options.instances.windows(2).any(|pair| pair[0] >= pair[1]) {
        return Err(format!("--instances must increase strictly, each in 1..={MAX_INSTANCES}: {}", instance_list(&options.instances)));
    }
    if options.warmup == 0 || options.warmup > MAX_INVOCATIONS {
        return Err(format!("--warmup must be in 1..={MAX_INVOCATIONS}, not {}", options.warmup));
    }
    if options.invocations == 0 || options.invocations > MAX_INVOCATIONS {
        return Err(format!("--invocations must be in 1..={MAX_INVOCATIONS}, not {}", options.invocations));
    }
    if options.pcid.is_empty() || options.pcid.iter().any(|pcid| pcid != "on" && pcid != "off") {
        return Err(format!("--pcid takes on and/or off, not \"{}\"", options.pcid.join(",")));
    }
    Ok(())
}

/// Returns the instance counts as the kernel's `instances` value (`1,64,1024`).
fn instance_list(instances: &[u32]) -> String {
    instances.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// Boots one sweep under the plugin, echoing progress; returns (kernel output, plugin output).
fn boot_sweep(options: &BenchOptions, workload: &str, pcid: &str) -> Result<(String, String), String> {
    let args = format!(
        "test=density tlbsim=on pcid={pcid} workload={workload} instances={} warmup={} invocations={}",
        instance_list(&options.instances),
        options.warmup,
        options.invocations
    );
    let plugin_out = options.out_dir.join(format!("tlbsim-{workload}-pcid-{pcid}.txt"));
    let mut child = Command::new(&options.runner)
        .args(["--mode", "test", "--firmware", "uefi", "--timeout", &options.timeout_seconds.to_string(), "--memory", &options.memory_mib.to_string()])
        .args(["--args", &args])
        .args(["--tlbsim", &format!("preset={},out={}", options.preset, plugin_out.display())])
        .args(["--tlbsim-plugin", &options.plugin.display().to_string()])
        .arg(&options.image)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|error| format!("running {}: {error}", options.runner.display()))?;
    let mut kernel_output = String::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let line = line.replace('\r', "");
            if let Some(fields) = fields(&line, "result: density ") {
                eprintln!(
                    "bench: {workload} pcid={pcid} global={} share_tables={} instances={} done",
                    fields.get("global").map_or("?", String::as_str),
                    fields.get("share_tables").map_or("?", String::as_str),
                    fields.get("instances").map_or("?", String::as_str)
                );
            }
            kernel_output.push_str(&line);
            kernel_output.push('\n');
        }
    }
    let status = child.wait().map_err(|error| format!("waiting for the runner: {error}"))?;
    if status.code() != Some(0) {
        return Err(format!("the {workload} pcid={pcid} sweep failed (runner status {status}); kernel output:\n{kernel_output}"));
    }
    let plugin_output = std::fs::read_to_string(&plugin_out).map_err(|error| format!("reading {}: {error}", plugin_out.display()))?;
    Ok((kernel_output, plugin_output))
}

/// The charts drawn per workload: file stem, title, y label.
pub(crate) const CHARTS: [(&str, &str, &str); 3] = [
    ("walks", "Page walks per invocation", "page walks per invocation"),
    ("page-tables", "Page-table pages per instance", "page-table pages"),
    ("saved", "Walks saved by the global segment", "% of walks saved (global on vs off)"),
];

/// Runs the study and writes the results folder; returns the rows.
///
/// # Errors
/// Returns a message when a boot fails or a file cannot be written.
pub(crate) fn run(options: &BenchOptions) -> Result<Vec<Row>, String> {
    std::fs::create_dir_all(&options.out_dir).map_err(|error| format!("creating {}: {error}", options.out_dir.display()))?;
    let mut rows = Vec::new();
    let mut geometry = String::new();
    let boots = options.workloads.len() * options.pcid.len();
    for (index, (workload, pcid)) in options.workloads.iter().flat_map(|workload| options.pcid.iter().map(move |pcid| (workload, pcid))).enumerate() {
        eprintln!("bench: boot {}/{boots}: the {workload} sweep with pcid={pcid} under tlbsim ({})", index + 1, options.preset);
        let (kernel_output, plugin_output) = boot_sweep(options, workload, pcid)?;
        if geometry.is_empty() {
            geometry = plugin_output.lines().find(|line| line.starts_with("tlbsim geometry")).unwrap_or("").to_owned();
        }
        rows.extend(join(&kernel_output, &plugin_output));
    }
    write(&options.out_dir.join("results.csv"), &csv(&rows))?;
    for workload in &options.workloads {
        let of_workload: Vec<Row> = rows.iter().filter(|row| row.kernel.get("workload") == Some(workload)).cloned().collect();
        for (stem, title, y_label) in CHARTS {
            let series = match stem {
                "walks" => series_by_mode(&of_workload, Row::walks_per_invocation),
                "page-tables" => series_by_mode(&of_workload, |row| row.kernel_number("page_table_pages_per_instance")),
                _ => saved_series(&of_workload),
            };
            let svg = options.out_dir.join(format!("{workload}-{stem}.svg"));
            write(&svg, &svg_chart(&format!("{title}: {workload}"), "function instances (log scale)", y_label, &series))?;
            render_png(&svg, &svg.with_extension("png"))?;
        }
    }
    write(&options.out_dir.join("report.md"), &report(options, &rows, &geometry))?;
    Ok(rows)
}

/// Returns the files `run` writes, for the command's summary.
pub(crate) fn output_files(options: &BenchOptions) -> Vec<PathBuf> {
    let mut files = vec![options.out_dir.join("results.csv"), options.out_dir.join("report.md")];
    for workload in &options.workloads {
        for (stem, _, _) in CHARTS {
            for extension in ["svg", "png"] {
                files.push(options.out_dir.join(format!("{workload}-{stem}.{extension}")));
            }
        }
    }
    files
}

/// Renders an SVG chart to PNG with rsvg-convert (package librsvg2-bin, installed by setup.sh).
fn render_png(svg: &Path, png: &Path) -> Result<(), String> {
    let status = Command::new("rsvg-convert")
        .arg("-o")
        .arg(png)
        .arg(svg)
        .status()
        .map_err(|error| format!("running rsvg-convert ({error}): run ./setup.sh (package librsvg2-bin)"))?;
    if status.success() { Ok(()) } else { Err(format!("rsvg-convert failed on {}: {status}", svg.display())) }
}

fn write(path: &Path, contents: &str) -> Result<(), String> {
    std::fs::write(path, contents).map_err(|error| format!("writing {}: {error}", path.display()))
}

/// Writes the Markdown report.
fn report(options: &BenchOptions, rows: &[Row], geometry: &str) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| text.lines().find(|line| line.starts_with("model name")).map(|line| line.split(':').nth(1).unwrap_or("").trim().to_owned()))
        .unwrap_or_else(|| "unknown".into());
    let qemu = Command::new("qemu-system-x86_64").arg("--version").output().ok().map(|output| String::from_utf8_lossy(&output.stdout).lines().next().unwrap_or("").to_owned()).unwrap_or_default();
    let mut text = String::new();
    let _ = writeln!(text, "# shoal density study\n");
    let _ = writeln!(text, "- host CPU: {cpu}; emulator: {qemu} (TCG); engine reported by the kernel: {}", rows.first().and_then(|row| row.kernel.get("engine")).map_or("?", String::as_str));
    let _ = writeln!(text, "- TLB model: tlbsim preset `{}` — `{geometry}`", options.preset);
    let _ = writeln!(text, "- instances {}, closed loop, round-robin on one core; the timer is masked during the measured phases", instance_list(&options.instances));
    let _ = writeln!(text, "- **warm**: {} warm-up invocations (whole rounds of all instances, at least one round), then the simulator's counters are zeroed *without* emptying its TLBs and {} measured invocations (whole rounds) run; walks per invocation over those are the steady state", options.warmup, options.invocations);
    let _ = writeln!(text, "- **cold, shared-warm**: right after, a fresh instance's first invocation while the others' translations are still cached (with the global segment, the runtime's global entries serve it); **cold, flushed**: another fresh instance's first invocation after every TLB entry, globals included, was invalidated. Each is one invocation; process creation is not counted\n");
    let _ = writeln!(text, "## Workloads\n");
    for workload in &options.workloads {
        let _ = writeln!(text, "- `{workload}`: {}", workload_description(workload));
    }
    let _ = writeln!(text, "\n## What the figures mean\n");
    let _ = writeln!(text, "- **walks per invocation** (`<workload>-walks.svg`): page walks the modelled TLB hierarchy needed, instruction plus data, divided by invocations. These are the simulator's counts: deterministic, and a model of a real core's TLBs (no paging-structure caches).");
    let _ = writeln!(text, "- **page-table pages per instance** (`<workload>-page-tables.svg`): what each instance's address space owns; with `share=1` the runtime's tables are shared and not counted.");
    let _ = writeln!(text, "- **walks saved** (`<workload>-saved.svg`): how much of the walk work `global=1` removes against `global=0`.");
    let _ = writeln!(text, "- `pcid=simulated`: QEMU TCG has no PCID; the kernel tags address spaces and the simulator models CR4.PCIDE=1. `pcid=off`/`unavailable`: every switch flushes.");
    let _ = writeln!(text, "- `cycles_per_invocation` and `spawn_cycles` in the CSV are QEMU TCG cycles: emulated, not hardware figures. `pmu` says whether hardware counters were read; under QEMU TCG there is no PMU, so it is `unavailable`.\n");
    for workload in &options.workloads {
        let _ = writeln!(text, "## Results: `{workload}`\n");
        let _ = writeln!(text, "| mode | instances | warm walks/invocation | cold walks (flushed) | cold walks (shared-warm) | page-table pages/instance | frames/instance | spawn cycles (TCG) |");
        let _ = writeln!(text, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for row in rows.iter().filter(|row| row.kernel.get("workload") == Some(workload)) {
            let instances = row.kernel_number("instances");
            let _ = writeln!(
                text,
                "| {} | {instances} | {:.2} | {} | {} | {} | {:.1} | {} |",
                row.mode(),
                row.walks_per_invocation(),
                Row::cold_walks(&row.cold_flushed).map_or("?".into(), |walks| format!("{walks:.0}")),
                Row::cold_walks(&row.cold_shared).map_or("?".into(), |walks| format!("{walks:.0}")),
                row.kernel_number("page_table_pages_per_instance"),
                row.kernel_number("frames") / instances.max(1.0),
                row.kernel_number("spawn_cycles")
            );
        }
        let _ = writeln!(text, "\n![walks]({workload}-walks.svg)\n\n![page tables]({workload}-page-tables.svg)\n\n![saved]({workload}-saved.svg)\n");
    }
    text
}

/// Says what one invocation of `workload` does.
fn workload_description(workload: &str) -> &'static str {
    match workload {
        "synth-small" => "synthetic runtime, 1 MiB of code and 1 MiB of read-only data; each invocation calls 32 random code pages and reads 32 random data pages",
        "synth-medium" => "synthetic runtime, 8 MiB of code and 8 MiB of read-only data; each invocation calls 32 random code pages and reads 32 random data pages",
        "synth-large" => "synthetic runtime, 64 MiB of code and 64 MiB of read-only data (the size class of a Node runtime); each invocation calls 32 random code pages and reads 32 random data pages",
        "wasm-runtime" => "the WebAssembly runtime (wasmi) hosting eight handlers; instance i serves handler i mod 8, each invocation runs the handler once on a seeded input and checks its answer",
        _ => "a workload this version of the host tool does not describe",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KERNEL: &str = "noise\nresult: density id=100 workload=synth-small global=1 share_tables=1 pcid=simulated instances=2 warmup_invocations=512 rounds=4 invocations=8 cycles_per_invocation=10 cold_shared_id=101 cold_flushed_id=102 engine=tcg pmu=unavailable page_table_pages=12 page_table_pages_per_instance=6 frames=52 spawn_cycles=5\nresult: density id=103 workload=synth-small global=0 share_tables=1 pcid=simulated instances=2 warmup_invocations=512 rounds=4 invocations=8 cycles_per_invocation=10 cold_shared_id=104 cold_flushed_id=105 engine=tcg pmu=unavailable page_table_pages=12 page_table_pages_per_instance=6 frames=52 spawn_cycles=5\n";
    const PLUGIN: &str = "tlbsim geometry v=1 verified=1\ntlbsim phase v=1 id=100 name=a i.walks_4k=4 i.walks_2m=0 d.walks_4k=4 d.walks_2m=0\ntlbsim phase v=1 id=101 name=a-cold-shared i.walks_4k=3 i.walks_2m=0 d.walks_4k=20 d.walks_2m=0\ntlbsim phase v=1 id=102 name=a-cold-flushed i.walks_4k=30 i.walks_2m=0 d.walks_4k=40 d.walks_2m=0\ntlbsim phase v=1 id=103 name=b i.walks_4k=40 i.walks_2m=0 d.walks_4k=40 d.walks_2m=0\n";

    #[test]
    fn joins_kernel_and_simulator_lines_by_phase_id() {
        let rows = join(KERNEL, PLUGIN);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].walks_per_invocation(), 1.0);
        assert_eq!(rows[1].walks_per_invocation(), 10.0);
        assert_eq!(rows[0].mode(), "pcid=simulated global=1 share=1");
        // Each configuration's cold phases join by the ids its result line names.
        assert_eq!((Row::cold_walks(&rows[0].cold_shared), Row::cold_walks(&rows[0].cold_flushed)), (Some(23.0), Some(70.0)));
        assert_eq!(Row::cold_walks(&rows[1].cold_shared), None, "the plugin reported no cold phase for 103");
    }

    #[test]
    fn csv_has_a_header_and_one_row_per_configuration() {
        let text = csv(&join(KERNEL, PLUGIN));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("id,workload,pcid,global"));
        assert!(lines[1].starts_with("100,synth-small,simulated,1,1,2,512,4,8,"));
        let header: Vec<&str> = lines[0].split(',').collect();
        assert_eq!(&header[header.len() - 3..], ["walks_per_invocation", "cold_walks_per_invocation", "cold_shared_walks_per_invocation"]);
        assert!(lines[1].ends_with(",1.000,70.000,23.000"), "{}", lines[1]);
        assert!(lines[2].ends_with(",10.000,,"), "{}", lines[2]);
    }

    #[test]
    fn pmu_counts_get_their_own_columns() {
        let kernel = "result: density id=100 workload=synth-small pcid=on global=1 share_tables=1 instances=1 invocations=4 pmu=intel-v4 pmu.cycles=800 pmu.itlb_walks=7\nresult: density id=101 workload=synth-small pcid=on global=0 share_tables=1 instances=1 invocations=4 pmu=unavailable\n";
        let text = csv(&join(kernel, PLUGIN));
        let lines: Vec<&str> = text.lines().collect();
        let header: Vec<&str> = lines[0].split(',').collect();
        let cycles = header.iter().position(|column| *column == "pmu.cycles").expect("a pmu.cycles column");
        assert_eq!(header[cycles + 1], "pmu.itlb_walks");
        assert_eq!(lines[1].split(',').nth(cycles), Some("800"));
        assert_eq!(lines[2].split(',').nth(cycles), Some(""), "no count where the PMU was unavailable");
    }

    #[test]
    fn the_saved_share_compares_global_off_with_global_on() {
        let saved = saved_series(&join(KERNEL, PLUGIN));
        assert_eq!(saved.len(), 1);
        assert_eq!(saved[0].points, vec![(2.0, 90.0)]);
    }

    fn options() -> BenchOptions {
        BenchOptions {
            runner: PathBuf::new(),
            image: PathBuf::new(),
            plugin: PathBuf::new(),
            out_dir: PathBuf::from("out"),
            preset: "skylake-client".into(),
            workloads: vec!["synth-small".into(), "wasm-runtime".into()],
            instances: vec![1, 64, 1024],
            warmup: 512,
            invocations: 256,
            pcid: vec!["on".into(), "off".into()],
            timeout_seconds: 1,
            memory_mib: 4096,
        }
    }

    #[test]
    fn bad_options_are_refused_with_the_value_named() {
        assert_eq!(check(&options()), Ok(()));
        let refused = |change: fn(&mut BenchOptions)| {
            let mut options = options();
            change(&mut options);
            check(&options).unwrap_err()
        };
        assert_eq!(refused(|options| options.workloads = vec!["node".into()]), "unknown workload \"node\"; known: synth-small synth-medium synth-large wasm-runtime");
        assert_eq!(refused(|options| options.instances = vec![64, 1]), "--instances must increase strictly, each in 1..=65536: 64,1");
        assert_eq!(refused(|options| options.instances = vec![0]), "--instances must increase strictly, each in 1..=65536: 0");
        assert_eq!(refused(|options| options.instances = (1..=17).collect()), "--instances takes 1 to 16 counts, not 17");
        assert_eq!(refused(|options| options.warmup = 0), "--warmup must be in 1..=10000000, not 0");
        assert_eq!(refused(|options| options.invocations = 10_000_001), "--invocations must be in 1..=10000000, not 10000001");
        assert_eq!(refused(|options| options.pcid = vec!["maybe".into()]), "--pcid takes on and/or off, not \"maybe\"");
    }

    #[test]
    fn every_chart_of_every_workload_is_listed() {
        let files = output_files(&options());
        assert_eq!(files.len(), 2 + 2 * 3 * 2);
        assert!(files.contains(&PathBuf::from("out/wasm-runtime-saved.png")));
    }

    #[test]
    fn the_chart_is_svg_with_one_polyline_per_series() {
        let rows = join(KERNEL, PLUGIN);
        let svg = svg_chart("t", "x", "y", &series_by_mode(&rows, Row::walks_per_invocation));
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<polyline").count(), 2);
    }
}
