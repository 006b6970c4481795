//! Latency percentiles and the process's resident memory.

use std::time::Duration;

/// Latencies of one measurement, sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Latencies {
    sorted: Vec<u32>,
}

impl Latencies {
    /// From latencies in microseconds, in any order.
    pub fn from_micros(mut micros: Vec<u32>) -> Self {
        micros.sort_unstable();
        Latencies { sorted: micros }
    }

    /// These and `other`, sorted.
    pub fn merged(mut self, other: Latencies) -> Latencies {
        self.sorted.extend(other.sorted);
        Latencies::from_micros(self.sorted)
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The `p`-th percentile (`p` from 0 to 100, nearest rank); `None` without latencies.
    ///
    /// ```
    /// use mcp_bench::stats::Latencies;
    /// use std::time::Duration;
    ///
    /// let l = Latencies::from_micros((1..=100).rev().collect());
    /// assert_eq!(l.percentile(50.0), Some(Duration::from_micros(50)));
    /// assert_eq!(l.percentile(99.0), Some(Duration::from_micros(99)));
    /// assert_eq!(l.percentile(100.0), Some(Duration::from_micros(100)));
    /// assert_eq!(Latencies::default().percentile(50.0), None);
    /// ```
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        if self.sorted.is_empty() {
            return None;
        }
        let n = self.sorted.len();
        let rank = ((p.clamp(0.0, 100.0) / 100.0) * n as f64).ceil() as usize;
        let i = rank.clamp(1, n) - 1;
        Some(Duration::from_micros(u64::from(self.sorted[i])))
    }
}

/// The resident set size of this process (`VmRSS` of `/proc/self/status`), in bytes;
/// `None` where there is no such file.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_rss(&status)
}

/// `VmRSS` of a `/proc/<pid>/status` text, in bytes.
///
/// ```
/// assert_eq!(mcp_bench::stats::parse_vm_rss("Name:\tx\nVmRSS:\t  1234 kB\n"), Some(1234 * 1024));
/// assert_eq!(mcp_bench::stats::parse_vm_rss("Name:\tx\n"), None);
/// ```
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.trim_start_matches("VmRSS:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat`, at
/// `USER_HZ` (100 ticks a second on Linux); `None` where there is no such file.
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_cpu_ticks(&stat).map(|ticks| Duration::from_millis(ticks * 10))
}

/// `utime + stime` of a `/proc/<pid>/stat` line, in ticks.
///
/// ```
/// let line = "42 (mcp bench) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0";
/// assert_eq!(mcp_bench::stats::parse_cpu_ticks(line), Some(300));
/// assert_eq!(mcp_bench::stats::parse_cpu_ticks("garbage"), None);
/// ```
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name may contain spaces and parentheses: count fields after the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name: state (field 3) ... utime is field 14, stime field 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}
