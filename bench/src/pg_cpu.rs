//! PostgreSQL's CPU time on this machine, read from `/proc`: every `postgres` process's user and
//! system time, plus what the postmaster has collected from the backends that exited (so a run
//! whose connections close before the second reading still counts them).

/// Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on every Linux this runs on).
const TICKS_PER_SECOND: f64 = 100.0;

/// Seconds of CPU the PostgreSQL server has used so far; `None` when no server runs here (or
/// `/proc` cannot be read), so the figure is left out rather than shown wrong.
pub fn seconds() -> Option<f64> {
    let mut ticks = 0u64;
    let mut found = false;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Some(stat) = Stat::read(pid) else {
            continue;
        };
        if stat.command != "postgres" {
            continue;
        }
        found = true;
        ticks += stat.user + stat.system;
        // the postmaster (its parent is not a postgres process) has reaped the exited backends
        let parent_is_postgres =
            Stat::read(&stat.parent.to_string()).is_some_and(|p| p.command == "postgres");
        if !parent_is_postgres {
            ticks += stat.children_user + stat.children_system;
        }
    }
    found.then(|| ticks as f64 / TICKS_PER_SECOND)
}

/// Seconds of CPU this process (the benchmark: its load generator, and the library or the HTTP
/// service it measures) has used so far; `None` when `/proc` cannot be read.
pub fn own_seconds() -> Option<f64> {
    let stat = Stat::read("self")?;
    Some((stat.user + stat.system) as f64 / TICKS_PER_SECOND)
}

/// CPU milliseconds per request between two readings of `seconds` or `own_seconds`.
pub fn per_request(before: Option<f64>, after: Option<f64>, requests: u64) -> Option<f64> {
    match (before, after) {
        (Some(a), Some(b)) if requests > 0 => Some((b - a) * 1000.0 / requests as f64),
        _ => None,
    }
}

/// The fields of `/proc/<pid>/stat` this needs.
struct Stat {
    command: String,
    parent: u64,
    user: u64,
    system: u64,
    children_user: u64,
    children_system: u64,
}

impl Stat {
    fn read(pid: &str) -> Option<Stat> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // "pid (comm) state ppid ...": comm may hold spaces, so split after its closing paren
        let open = text.find('(')?;
        let close = text.rfind(')')?;
        let command = text.get(open + 1..close)?.to_owned();
        let fields: Vec<&str> = text.get(close + 2..)?.split_whitespace().collect();
        // after comm: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
        let number = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        Some(Stat {
            command,
            parent: number(1)?,
            user: number(11)?,
            system: number(12)?,
            children_user: number(13)?,
            children_system: number(14)?,
        })
    }
}
