//! Prometheus metrics: the recorder is installed once per process; process
//! CPU and memory are read from /proc when `/metrics` is scraped.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub fn install() -> anyhow::Result<PrometheusHandle> {
    Ok(PrometheusBuilder::new().install_recorder()?)
}

/// Process CPU seconds and resident memory, as node exporters name them.
pub fn record_process() {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the command name (which may contain spaces) in parentheses.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the full line (11, 12 here); rss is 24 (21).
    let ticks = 100.0; // USER_HZ on Linux
    if let (Some(utime), Some(stime), Some(rss)) = (fields.get(11), fields.get(12), fields.get(21))
    {
        let cpu =
            (utime.parse::<f64>().unwrap_or(0.0) + stime.parse::<f64>().unwrap_or(0.0)) / ticks;
        metrics::gauge!("process_cpu_seconds_total").set(cpu);
        metrics::gauge!("process_resident_memory_bytes")
            .set(rss.parse::<f64>().unwrap_or(0.0) * 4096.0);
    }
}
