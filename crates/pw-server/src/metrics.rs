//! Prometheus metrics, rendered in the text exposition format at `/metrics`. Names follow
//! `pw_<subsystem>_<name>_<unit>`; label values have bounded cardinality (route templates,
//! status codes, execution statuses), never ids or messages.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Inner {
    /// (name, labels) → value. Labels are pre-rendered (`route="/x",status="200"`).
    counters: BTreeMap<(&'static str, String), u64>,
    histograms: BTreeMap<(&'static str, String), Histogram>,
}

/// The server's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn help(name: &str) -> &'static str {
    match name {
        "pw_http_requests_total" => "HTTP requests answered, by route template and status code.",
        "pw_http_request_duration_seconds" => "HTTP request latency, by route template.",
        "pw_agent_check_ins_total" => "Agent polls for commands.",
        "pw_agent_commands_delivered_total" => {
            "Commands handed out to agents (redeliveries included)."
        }
        "pw_executions_opened_total" => "Window executions opened by the scheduler, by status.",
        "pw_executions_finished_total" => "Window executions that ended, by status.",
        "pw_invocations_dispatched_total" => {
            "Invocations started (a command was created for the node)."
        }
        "pw_invocations_finished_total" => "Invocations that ended, by status.",
        "pw_compliance_reports_total" => "Compliance reports appended.",
        _ => "Patchwarden metric.",
    }
}

/// Escapes a label value.
pub fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Adds `by` to a counter.
    pub fn count(&self, name: &'static str, labels: String, by: u64) {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *inner.counters.entry((name, labels)).or_default() += by;
    }

    /// Records one observation.
    pub fn observe(&self, name: &'static str, labels: String, value: Duration) {
        let seconds = value.as_secs_f64();
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let histogram = inner.histograms.entry((name, labels)).or_default();
        for (index, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                histogram.counts[index] += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = String::new();
        let mut last = "";
        for ((name, labels), value) in &inner.counters {
            if *name != last {
                let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} counter", help(name));
                last = name;
            }
            if labels.is_empty() {
                let _ = writeln!(out, "{name} {value}");
            } else {
                let _ = writeln!(out, "{name}{{{labels}}} {value}");
            }
        }
        last = "";
        for ((name, labels), histogram) in &inner.histograms {
            if *name != last {
                let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} histogram", help(name));
                last = name;
            }
            let sep = if labels.is_empty() { "" } else { "," };
            for (index, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {}",
                    histogram.counts[index]
                );
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
                histogram.count
            );
            let braces = if labels.is_empty() {
                String::new()
            } else {
                format!("{{{labels}}}")
            };
            let _ = writeln!(out, "{name}_sum{braces} {}", histogram.sum);
            let _ = writeln!(out, "{name}_count{braces} {}", histogram.count);
        }
        out
    }
}
