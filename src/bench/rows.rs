//! Parsing and joining: the kernel's `result: density ...` lines, the simulator's
//! `tlbsim phase ...` and `tlbsim cost ...` lines, and the figures of `results.csv` computed from
//! them.
//!
//! Both producers write `key=value` words; [`fields`] reads them into generic maps, so a key a
//! producer adds later is carried along, and a derived column whose inputs are missing (a
//! version-1 plugin has no `instructions.user`, no `cost.walk_cycles`) is left empty rather than
//! guessed. [`Row`] holds one configuration: its kernel fields, the counters of its three phases
//! and its boot's cost-model line. [`csv`] writes the rows in the column order of
//! `docs/result-schema.md` (version 5).

use std::collections::{BTreeMap, BTreeSet};

/// `key=value` fields of one line.
pub(crate) type Fields = BTreeMap<String, String>;

/// Prefix of the kernel's result line.
pub(crate) const RESULT_PREFIX: &str = "result: density ";
/// Prefix of the simulator's phase line.
const PHASE_PREFIX: &str = "tlbsim phase ";
/// Prefix of the simulator's cost-model line (plugin version 2).
const COST_PREFIX: &str = "tlbsim cost ";
/// Prefix of the simulator's geometry line.
pub(crate) const GEOMETRY_PREFIX: &str = "tlbsim geometry";

/// One configuration: the kernel's result fields joined with the simulator's counters of its
/// three phases and the cost model its boot used.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Row {
    /// The kernel's `key=value` fields (workload, global, share_tables, pcid, instances, ...).
    pub(crate) kernel: Fields,
    /// The simulator's fields of the warm phase (`i.walks_4k`, `instructions.user`,
    /// `cost.walk_cycles`, ...).
    pub(crate) simulator: Fields,
    /// The same for the cold, shared-warm phase (one fresh instance's first invocation).
    pub(crate) cold_shared: Fields,
    /// The same for the cold, flushed phase (one fresh instance's first invocation after a full
    /// flush).
    pub(crate) cold_flushed: Fields,
    /// The same for the spawn phase (one fresh instance's start, until it waits for its first
    /// invocation); on a Linux baseline, by fork and execve.
    pub(crate) spawn: Fields,
    /// On a Linux baseline, the same for the start of another instance by posix_spawn.
    pub(crate) posix_spawn: Fields,
    /// The fields of the boot's `tlbsim cost` line (`preset`, `psc`, `data`, `base_cpi`, ...);
    /// empty with a version-1 plugin.
    pub(crate) cost: Fields,
}

/// Returns a field as a number, `None` when it is absent or not a number.
fn optional(map: &Fields, key: &str) -> Option<f64> {
    map.get(key).and_then(|value| value.parse().ok())
}

impl Row {
    /// Returns a kernel field as a number (0 when absent).
    pub(crate) fn kernel_number(&self, key: &str) -> f64 {
        optional(&self.kernel, key).unwrap_or(0.0)
    }

    /// Returns a kernel field as text (empty when absent).
    pub(crate) fn kernel_text(&self, key: &str) -> &str {
        self.kernel.get(key).map_or("", String::as_str)
    }

    /// Returns the measured invocations of the warm phase (at least 1, so divisions are safe).
    fn invocations(&self) -> f64 {
        self.kernel_number("invocations").max(1.0)
    }

    /// Returns the page walks (all page sizes) of `side` (`i` or `d`) in a phase's counters.
    fn phase_walks(phase: &Fields, side: &str) -> f64 {
        ["walks_4k", "walks_2m", "walks_1g"].iter().map(|size| optional(phase, &format!("{side}.{size}")).unwrap_or(0.0)).sum()
    }

    /// Returns the warm phase's page walks, instruction plus data, all page sizes.
    fn warm_walks(&self) -> f64 {
        Self::phase_walks(&self.simulator, "i") + Self::phase_walks(&self.simulator, "d")
    }

    /// Returns warm page walks per invocation, instruction plus data.
    pub(crate) fn walks_per_invocation(&self) -> f64 {
        self.warm_walks() / self.invocations()
    }

    /// Returns the page walks of a cold phase (one invocation), instruction plus data; `None`
    /// when the simulator did not report the phase.
    fn cold_walks(phase: &Fields) -> Option<f64> {
        (!phase.is_empty()).then(|| Self::phase_walks(phase, "i") + Self::phase_walks(phase, "d"))
    }

    /// Returns the cold, flushed phase's walks (`cold_walks_per_invocation`).
    pub(crate) fn cold_flushed_walks(&self) -> Option<f64> {
        Self::cold_walks(&self.cold_flushed)
    }

    /// Returns the cold, shared-warm phase's walks (`cold_shared_walks_per_invocation`).
    pub(crate) fn cold_shared_walks(&self) -> Option<f64> {
        Self::cold_walks(&self.cold_shared)
    }

    /// Returns the warm phase's instructions, user plus kernel (plugin version 2).
    fn instructions(&self) -> Option<f64> {
        Some(optional(&self.simulator, "instructions.user")? + optional(&self.simulator, "instructions.kernel")?)
    }

    /// Returns `instructions_per_invocation`: warm instructions, user plus kernel, per invocation.
    pub(crate) fn instructions_per_invocation(&self) -> Option<f64> {
        Some(self.instructions()? / self.invocations())
    }

    /// Returns the instructions, user plus kernel, of a phase with them.
    fn phase_instructions(phase: &Fields) -> Option<f64> {
        Some(optional(phase, "instructions.user")? + optional(phase, "instructions.kernel")?)
    }

    /// Returns `spawn_instructions`: the guest instructions of one instance's start, from the
    /// request until it waits for its first invocation (shoal's spawn; Linux's fork + execve).
    pub(crate) fn spawn_instructions(&self) -> Option<f64> {
        Self::phase_instructions(&self.spawn)
    }

    /// Returns `posix_spawn_instructions`: the same for Linux's posix_spawn (Linux rows only).
    pub(crate) fn posix_spawn_instructions(&self) -> Option<f64> {
        Self::phase_instructions(&self.posix_spawn)
    }

    /// Returns `walks_per_kilo_instruction`: warm walks per 1000 warm instructions; `None` without
    /// instruction counts or with none counted.
    pub(crate) fn walks_per_kilo_instruction(&self) -> Option<f64> {
        let instructions = self.instructions().filter(|&count| count > 0.0)?;
        Some(self.warm_walks() * 1000.0 / instructions)
    }

    /// Returns a warm per-invocation figure of the simulator's counter `key`.
    fn warm_per_invocation(&self, key: &str) -> Option<f64> {
        Some(optional(&self.simulator, key)? / self.invocations())
    }

    /// Returns `walk_cycles_per_invocation`: the cost model's walk cycles per warm invocation.
    pub(crate) fn walk_cycles_per_invocation(&self) -> Option<f64> {
        self.warm_per_invocation("cost.walk_cycles")
    }

    /// Returns `window_walks_per_invocation`: warm walks of global-segment window addresses.
    pub(crate) fn window_walks_per_invocation(&self) -> Option<f64> {
        self.warm_per_invocation("walks.window")
    }

    /// Returns `private_walks_per_invocation`: warm walks of per-process private addresses.
    pub(crate) fn private_walks_per_invocation(&self) -> Option<f64> {
        self.warm_per_invocation("walks.private")
    }

    /// Returns `driver_walks_per_invocation`: warm walks made in the driver's address space
    /// (plugin key `walks.driver`; the Linux baseline's driver is a process, shoal's driver is
    /// in the kernel and announces no space, so its rows have 0 or nothing).
    pub(crate) fn driver_walks_per_invocation(&self) -> Option<f64> {
        self.warm_per_invocation("walks.driver")
    }

    /// Returns `cr3_writes_per_invocation`: warm MOV-to-CR3 executions per invocation (address
    /// space switches, and on Linux also the full TLB flushes that reload CR3).
    pub(crate) fn cr3_writes_per_invocation(&self) -> Option<f64> {
        self.warm_per_invocation("cr3_writes")
    }

    /// Returns `preemptions_per_invocation`: the instances' involuntary context switches over
    /// the measured rounds per invocation (Linux rows: the driver's `instance_preemptions`;
    /// shoal's rows have none, its in-kernel driver never preempts an instance).
    pub(crate) fn preemptions_per_invocation(&self) -> Option<f64> {
        Some(optional(&self.kernel, "instance_preemptions")? / self.invocations())
    }

    /// Returns `kernel_walks_per_invocation`: warm walks of kernel-half addresses.
    pub(crate) fn kernel_walks_per_invocation(&self) -> Option<f64> {
        self.warm_per_invocation("walks.kernel")
    }

    /// Returns the base CPI the cost model assumed (the boot's `tlbsim cost` line).
    pub(crate) fn base_cpi(&self) -> Option<f64> {
        optional(&self.cost, "base_cpi")
    }

    /// Returns `translation_overhead_percent`: walk cycles over (instructions x base CPI + walk
    /// cycles), in percent. An upper bound: it assumes no walk overlaps other work, while an
    /// out-of-order core hides part of a walk's latency.
    pub(crate) fn translation_overhead_percent(&self) -> Option<f64> {
        let walk_cycles = optional(&self.simulator, "cost.walk_cycles")?;
        let total = self.instructions()? * self.base_cpi()? + walk_cycles;
        (total > 0.0).then(|| walk_cycles / total * 100.0)
    }

    /// Returns the window mode's name (`global-shared`, ...), from the `global` and
    /// `share_tables` fields.
    pub(crate) fn mode_name(&self) -> String {
        let global = match self.kernel_text("global") {
            "1" => "global",
            "0" => "local",
            _ => "?",
        };
        let share = match self.kernel_text("share_tables") {
            "1" => "shared",
            "0" => "private",
            _ => "?",
        };
        format!("{global}-{share}")
    }

    /// Returns whether the window mapped its read-only regions with 2 MiB pages
    /// (`large_pages=1`; rows without the field, a Linux baseline's, used 4 KiB pages there).
    pub(crate) fn large_pages(&self) -> bool {
        self.kernel_text("large_pages") == "1"
    }

    /// Returns the series label: the window mode, `2M` for 2 MiB window pages, and the PCID
    /// setting (`global-shared pcid=simulated`, `global-shared 2M pcid=off`).
    pub(crate) fn mode(&self) -> String {
        let large = if self.large_pages() { " 2M" } else { "" };
        format!("{}{large} pcid={}", self.mode_name(), self.kernel.get("pcid").map_or("?", String::as_str))
    }
}

/// Parses the `key=value` words after a fixed prefix; `None` when the line does not start with it.
pub(crate) fn fields(line: &str, prefix: &str) -> Option<Fields> {
    let rest = line.trim().strip_prefix(prefix)?;
    Some(rest.split_whitespace().filter_map(|word| word.split_once('=')).map(|(key, value)| (key.to_owned(), value.to_owned())).collect())
}

/// Joins kernel result lines with simulator phase lines by phase id, attaching the boot's cost
/// line to every row. Phase ids are unique within one boot, so the two outputs must come from the
/// same boot.
pub(crate) fn join(kernel_output: &str, simulator_output: &str) -> Vec<Row> {
    let phases: BTreeMap<String, Fields> = simulator_output
        .lines()
        .filter_map(|line| fields(line, PHASE_PREFIX))
        .filter_map(|fields| Some((fields.get("id")?.clone(), fields)))
        .collect();
    let cost = simulator_output.lines().find_map(|line| fields(line, COST_PREFIX)).unwrap_or_default();
    kernel_output
        .lines()
        .filter_map(|line| fields(line, RESULT_PREFIX))
        .map(|mut kernel| {
            // shoal's own line has no `kernel` field; a Linux baseline's driver names itself.
            kernel.entry("kernel".to_owned()).or_insert_with(|| super::unit::SHOAL.to_owned());
            let phase = |key: &str| kernel.get(key).and_then(|id| phases.get(id)).cloned().unwrap_or_default();
            Row {
                simulator: phase("id"),
                cold_shared: phase("cold_shared_id"),
                cold_flushed: phase("cold_flushed_id"),
                spawn: phase("spawn_id"),
                posix_spawn: phase("posix_spawn_id"),
                cost: cost.clone(),
                kernel,
            }
        })
        .collect()
}

/// The kernel fields of the CSV, in order. `code_pages` and `data_pages` are the synthetic
/// runtimes' pages per invocation. The last six are the Linux baselines' (empty for shoal's
/// rows): the guest kernel's release and command line (without the driver's
/// arguments), the instances' page faults in the measured rounds, the page-table pages
/// `/proc/meminfo` counted for the instances, and the KiB the instances had mapped with 2 MiB
/// pages, file-backed and anonymous (non-zero only under `linux-thp`).
pub(crate) const KERNEL_COLUMNS: [&str; 27] = [
    "id", "workload", "binary", "kernel", "pcid", "global", "share_tables", "large_pages", "instances", "warmup_invocations", "rounds", "invocations",
    "cycles_per_invocation", "engine", "pmu", "page_table_pages", "page_table_pages_per_instance", "frames", "spawn_cycles",
    "code_pages", "data_pages", "guest_kernel", "guest_cmdline", "page_faults", "meminfo_page_table_pages", "thp_file_kb", "thp_anon_kb",
];
/// The warm phase's simulator counters of the CSV, in order.
pub(crate) const SIMULATOR_COLUMNS: [&str; 12] = [
    "i.accesses", "i.l1_misses", "i.stlb_hits", "i.walks_4k", "i.walks_2m", "i.walk_memory_references",
    "d.accesses", "d.l1_misses", "d.stlb_hits", "d.walks_4k", "d.walks_2m", "d.walk_memory_references",
];

/// A derived column: its name and how a row computes it (`None`: the cell is empty).
type Derived = (&'static str, fn(&Row) -> Option<f64>);

/// The derived columns of the CSV, in order, each written with three decimals.
pub(crate) const DERIVED_COLUMNS: [Derived; 15] = [
    ("walks_per_invocation", |row| Some(row.walks_per_invocation())),
    ("cold_walks_per_invocation", Row::cold_flushed_walks),
    ("cold_shared_walks_per_invocation", Row::cold_shared_walks),
    ("instructions_per_invocation", Row::instructions_per_invocation),
    ("walks_per_kilo_instruction", Row::walks_per_kilo_instruction),
    ("window_walks_per_invocation", Row::window_walks_per_invocation),
    ("private_walks_per_invocation", Row::private_walks_per_invocation),
    ("kernel_walks_per_invocation", Row::kernel_walks_per_invocation),
    ("walk_cycles_per_invocation", Row::walk_cycles_per_invocation),
    ("translation_overhead_percent", Row::translation_overhead_percent),
    ("spawn_instructions", Row::spawn_instructions),
    ("posix_spawn_instructions", Row::posix_spawn_instructions),
    ("driver_walks_per_invocation", Row::driver_walks_per_invocation),
    ("cr3_writes_per_invocation", Row::cr3_writes_per_invocation),
    ("preemptions_per_invocation", Row::preemptions_per_invocation),
];

/// Writes the rows as CSV: kernel fields, then one `pmu.<event>` column per event any row
/// carries, then the warm simulator counters, then the derived figures. A cell is quoted only
/// where it needs it (a comma, a quote or a line break in it).
pub(crate) fn csv(rows: &[Row]) -> String {
    let pmu_columns: BTreeSet<&str> =
        rows.iter().flat_map(|row| row.kernel.keys()).map(String::as_str).filter(|key| key.starts_with("pmu.")).collect();
    let kernel_columns: Vec<&str> = KERNEL_COLUMNS.iter().copied().chain(pmu_columns).collect();
    let header: Vec<&str> =
        kernel_columns.iter().chain(SIMULATOR_COLUMNS.iter()).copied().chain(DERIVED_COLUMNS.iter().map(|(name, _)| *name)).collect();
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    // Writing records into memory cannot fail: the errors are I/O errors of the sink.
    writer.write_record(&header).expect("writing a CSV record into memory");
    for row in rows {
        let mut cells: Vec<String> = kernel_columns.iter().map(|key| row.kernel.get(*key).cloned().unwrap_or_default()).collect();
        cells.extend(SIMULATOR_COLUMNS.iter().map(|key| row.simulator.get(*key).cloned().unwrap_or_default()));
        cells.extend(DERIVED_COLUMNS.iter().map(|(_, value)| value(row).map(|value| format!("{value:.3}")).unwrap_or_default()));
        writer.write_record(&cells).expect("writing a CSV record into memory");
    }
    let bytes = writer.into_inner().expect("flushing a CSV writer into memory");
    String::from_utf8(bytes).expect("CSV of UTF-8 cells is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const KERNEL: &str = "noise\nresult: density id=100 workload=synth-small binary=native global=1 share_tables=1 pcid=simulated instances=2 warmup_invocations=512 rounds=4 invocations=8 cycles_per_invocation=10 cold_shared_id=101 cold_flushed_id=102 engine=tcg pmu=unavailable page_table_pages=12 page_table_pages_per_instance=6 frames=52 spawn_cycles=5\nresult: density id=103 workload=synth-small global=0 share_tables=1 large_pages=1 pcid=simulated instances=2 warmup_invocations=512 rounds=4 invocations=8 cycles_per_invocation=10 cold_shared_id=104 cold_flushed_id=105 engine=tcg pmu=unavailable page_table_pages=12 page_table_pages_per_instance=6 frames=52 spawn_cycles=5\n";
    pub(crate) const PLUGIN: &str = "tlbsim geometry v=1 verified=1\ntlbsim phase v=1 id=100 name=a i.walks_4k=4 i.walks_2m=0 d.walks_4k=4 d.walks_2m=0\ntlbsim phase v=1 id=101 name=a-cold-shared i.walks_4k=3 i.walks_2m=0 d.walks_4k=20 d.walks_2m=0\ntlbsim phase v=1 id=102 name=a-cold-flushed i.walks_4k=30 i.walks_2m=0 d.walks_4k=40 d.walks_2m=0\ntlbsim phase v=1 id=103 name=b i.walks_4k=40 i.walks_2m=0 d.walks_4k=40 d.walks_2m=0\n";
    /// A version-2 plugin's output for the first configuration of [`KERNEL`]: 8 invocations,
    /// 8 warm walks (2 window, 4 private, 2 kernel), 1600 + 400 instructions, 960 walk cycles,
    /// base CPI 0.5.
    const PLUGIN_V2: &str = "tlbsim geometry v=1 verified=1\ntlbsim cost v=1 preset=skylake-client psc=nominal data=on base_cpi=0.500 l1d_latency=5\ntlbsim phase v=2 id=100 name=a i.walks_4k=4 i.walks_2m=0 d.walks_4k=4 d.walks_2m=0 instructions.user=1600 instructions.kernel=400 walks.window=2 walks.private=4 walks.kernel=2 cost.walk_cycles=960 cost.psc_hits=3\n";

    #[test]
    fn joins_kernel_and_simulator_lines_by_phase_id() {
        let rows = join(KERNEL, PLUGIN);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].walks_per_invocation(), 1.0);
        assert_eq!(rows[1].walks_per_invocation(), 10.0);
        assert_eq!(rows[0].mode(), "global-shared pcid=simulated");
        assert_eq!(rows[1].mode_name(), "local-shared");
        assert_eq!(rows[1].mode(), "local-shared 2M pcid=simulated", "2 MiB window pages are their own series");
        // Each configuration's cold phases join by the ids its result line names.
        assert_eq!((rows[0].cold_shared_walks(), rows[0].cold_flushed_walks()), (Some(23.0), Some(70.0)));
        assert_eq!(rows[1].cold_shared_walks(), None, "the plugin reported no cold phase for 103");
        assert!(rows[0].cost.is_empty(), "a version-1 plugin prints no cost line");
    }

    #[test]
    fn a_cell_with_a_comma_is_quoted_and_the_row_keeps_its_columns() {
        let kernel = KERNEL.replace("engine=tcg", "engine=tcg guest_cmdline=console=ttyS0,115200");
        let text = csv(&join(&kernel, PLUGIN));
        let mut reader = ::csv::Reader::from_reader(text.as_bytes());
        let header = reader.headers().expect("a header").clone();
        let column = header.iter().position(|name| name == "guest_cmdline").expect("the column");
        let first = reader.records().next().expect("a row").expect("a valid record");
        assert_eq!(first.len(), header.len());
        assert_eq!(&first[column], "console=ttyS0,115200");
        assert!(text.contains(",\"console=ttyS0,115200\","), "{text}");
    }

    #[test]
    fn csv_has_a_header_and_one_row_per_configuration() {
        let text = csv(&join(KERNEL, PLUGIN));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("id,workload,binary,kernel,pcid,global"));
        assert!(lines[1].starts_with("100,synth-small,native,shoal,simulated,1,1,,2,512,4,8,"), "a kernel line without large_pages leaves it empty");
        assert!(lines[2].starts_with("103,synth-small,,shoal,simulated,0,1,1,2,"));
        let header: Vec<&str> = lines[0].split(',').collect();
        assert_eq!(
            &header[header.len() - 15..],
            [
                "walks_per_invocation",
                "cold_walks_per_invocation",
                "cold_shared_walks_per_invocation",
                "instructions_per_invocation",
                "walks_per_kilo_instruction",
                "window_walks_per_invocation",
                "private_walks_per_invocation",
                "kernel_walks_per_invocation",
                "walk_cycles_per_invocation",
                "translation_overhead_percent",
                "spawn_instructions",
                "posix_spawn_instructions",
                "driver_walks_per_invocation",
                "cr3_writes_per_invocation",
                "preemptions_per_invocation"
            ]
        );
        // A version-1 plugin: the columns that need version-2 keys stay empty.
        assert!(lines[1].ends_with(",1.000,70.000,23.000,,,,,,,,,,,,"), "{}", lines[1]);
        assert!(lines[2].ends_with(",10.000,,,,,,,,,,,,,,"), "{}", lines[2]);
    }

    #[test]
    fn the_version_2_columns_are_computed_from_the_phase_and_cost_lines() {
        let rows = join(KERNEL, PLUGIN_V2);
        let row = &rows[0];
        assert_eq!(row.cost.get("psc").map(String::as_str), Some("nominal"));
        assert_eq!(row.base_cpi(), Some(0.5));
        assert_eq!(row.instructions_per_invocation(), Some(250.0));
        assert_eq!(row.walks_per_kilo_instruction(), Some(4.0), "8 walks per 2000 instructions");
        assert_eq!(row.walk_cycles_per_invocation(), Some(120.0));
        assert_eq!(row.translation_overhead_percent().map(|percent| format!("{percent:.3}")), Some("48.980".to_owned()), "960 / (2000 x 0.5 + 960)");
        assert_eq!(
            (row.window_walks_per_invocation(), row.private_walks_per_invocation(), row.kernel_walks_per_invocation()),
            (Some(0.25), Some(0.5), Some(0.25))
        );
        let text = csv(&rows);
        let last = text.lines().nth(1).unwrap();
        assert!(last.ends_with(",1.000,,,250.000,4.000,0.250,0.500,0.250,120.000,48.980,,,,,"), "{last}");
        // The second configuration has no phase in this output: only the cost line reaches it.
        assert_eq!(rows[1].translation_overhead_percent(), None);
        assert_eq!(rows[1].base_cpi(), Some(0.5));
    }

    #[test]
    fn the_spawn_phases_give_the_spawn_instructions() {
        let kernel = "result: density id=100 workload=synth-small kernel=linux instances=1 invocations=4 cold_shared_id=101 cold_flushed_id=102 spawn_id=103 posix_spawn_id=104\nresult: density id=105 workload=synth-small instances=1 invocations=4 spawn_id=108\n";
        let plugin = "tlbsim phase v=2 id=103 instructions.user=4000 instructions.kernel=300000\ntlbsim phase v=2 id=104 instructions.user=4000 instructions.kernel=200000\ntlbsim phase v=2 id=108 instructions.user=100 instructions.kernel=13000\n";
        let rows = join(kernel, plugin);
        assert_eq!((rows[0].spawn_instructions(), rows[0].posix_spawn_instructions()), (Some(304_000.0), Some(204_000.0)));
        assert_eq!((rows[1].spawn_instructions(), rows[1].posix_spawn_instructions()), (Some(13_100.0), None), "shoal has no posix_spawn");
        assert_eq!(rows[1].kernel_text("kernel"), "shoal");
        assert!(csv(&rows).lines().nth(2).unwrap().ends_with(",13100.000,,,,"));
    }

    #[test]
    fn switches_and_preemptions_per_invocation() {
        let kernel = "result: density id=100 workload=wasm-runtime kernel=linux instances=64 invocations=128 instance_preemptions=223
result: density id=105 workload=wasm-runtime instances=64 invocations=128
";
        let plugin = "tlbsim phase v=2 id=100 cr3_writes=473
tlbsim phase v=2 id=105 cr3_writes=128
";
        let rows = join(kernel, plugin);
        assert_eq!((rows[0].cr3_writes_per_invocation(), rows[0].preemptions_per_invocation()), (Some(473.0 / 128.0), Some(223.0 / 128.0)));
        assert_eq!((rows[1].cr3_writes_per_invocation(), rows[1].preemptions_per_invocation()), (Some(1.0), None), "shoal's driver preempts nothing");
        assert!(csv(&rows).lines().nth(1).unwrap().ends_with(",3.695,1.742"), "{}", csv(&rows));
        assert!(csv(&rows).lines().nth(2).unwrap().ends_with(",1.000,"), "{}", csv(&rows));
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
}
