//! What the benchmarks read of a function process from `/proc`, and their percentile.
#![allow(dead_code)] // Each benchmark uses its own subset.

use std::time::Duration;

/// The CPU time all threads of `pid` have used, from `/proc/<pid>/task/*/schedstat` (nanoseconds, unlike the
/// 10 ms ticks of `/proc/<pid>/stat`).
pub fn cpu_time(pid: u32) -> Duration {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) {
            total += text.split_whitespace().next().and_then(|ns| ns.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    Duration::from_nanos(total)
}

/// Minor plus major page faults of the process so far (`/proc/<pid>/stat` fields 10 and 12).
pub fn page_faults(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    fields[7].parse::<u64>().unwrap() + fields[9].parse::<u64>().unwrap()
}

/// `VmRSS` and `VmHWM` of `pid`, in KiB: the current resident set size and its peak (what Lambda reports as
/// "Max Memory Used").
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        let line = status.lines().find(|line| line.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The peak resident set size of `pid`, in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    memory_kib(pid).1
}

/// The `pct`th percentile of `values` (nearest rank, rounding down).
pub fn percentile<T: Copy + Ord>(values: &[T], pct: usize) -> T {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted[(sorted.len() - 1) * pct / 100]
}
