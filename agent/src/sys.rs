//! The few syscalls the agent makes itself (through `rustix`, no `unsafe` here):
//! hardening (`PR_SET_DUMPABLE=0`, `RLIMIT_CORE=0`), signalling a process group, a
//! process's start time (to tell a pid from its reuse), and the memory-cgroup check k3s
//! depends on.

use std::io;
use std::path::Path;

use rustix::process::{Pid, Resource, Rlimit, Signal};

/// No core dumps, no ptrace by other users, `/proc/<pid>/environ` and `mem` root-only:
/// the agent holds keys and, briefly, join tokens in memory. The core limit is
/// inherited by k3s (which holds the token too).
pub fn harden() -> io::Result<()> {
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)?;
    rustix::process::setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    )?;
    Ok(())
}

/// Sends `signal` to the process group `pgid`; a group that no longer exists
/// (`ESRCH`) counts as success.
pub fn signal_group(pgid: u32, signal: Signal) -> io::Result<()> {
    let Some(pid) = i32::try_from(pgid).ok().and_then(Pid::from_raw) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{pgid} is not a process group id"),
        ));
    };
    match rustix::process::kill_process_group(pid, signal) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Whether any process of group `pgid` is alive.
pub fn group_alive(pgid: u32) -> bool {
    i32::try_from(pgid)
        .ok()
        .and_then(Pid::from_raw)
        .is_some_and(|pid| rustix::process::test_kill_process_group(pid).is_ok())
}

/// When process `pid` started, in clock ticks since boot (`/proc/<pid>/stat` field 22):
/// with the pid, it names one process for the life of the machine, where the pid alone
/// may have been reused. `None` when there is no such process (or it is a zombie).
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces or `)`.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace();
    // Fields from 3 on: state is the first, starttime (22) the twentieth.
    if fields.next()? == "Z" {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// SIGTERM.
pub const TERM: Signal = Signal::TERM;
/// SIGKILL.
pub const KILL: Signal = Signal::KILL;

/// Whether the kernel offers the memory cgroup controller: the unified hierarchy's
/// `cgroup.controllers` under `cgroup_root` lists `memory`, or (cgroup v1)
/// `/proc/cgroups` has it enabled. Raspberry Pi kernels need
/// `cgroup_memory=1 cgroup_enable=memory` on the command line.
pub fn memory_cgroup_available(cgroup_root: &Path, proc_cgroups: &Path) -> bool {
    if let Ok(c) = std::fs::read_to_string(cgroup_root.join("cgroup.controllers")) {
        return c.split_whitespace().any(|w| w == "memory");
    }
    std::fs::read_to_string(proc_cgroups).is_ok_and(|t| {
        t.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() >= 4 && f[0] == "memory" && f[3] == "1"
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_start_time_names_it_and_not_its_pid_s_reuse() {
        let me = std::process::id();
        let t = process_start_time(me).expect("this process");
        assert_eq!(process_start_time(me), Some(t), "stable");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert_eq!(process_start_time(pid), None, "a reaped child has none");
        assert_eq!(process_start_time(u32::MAX), None);
    }

    #[test]
    fn memory_controller_from_cgroup2_or_v1() {
        let d = tempfile::tempdir().unwrap();
        let none = d.path().join("none");
        std::fs::write(
            d.path().join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        assert!(memory_cgroup_available(d.path(), &none));
        std::fs::write(d.path().join("cgroup.controllers"), "cpuset cpu io pids\n").unwrap();
        assert!(!memory_cgroup_available(d.path(), &none));
        let v1 = d.path().join("cgroups");
        std::fs::write(
            &v1,
            "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t2\t1\t1\nmemory\t0\t1\t0\n",
        )
        .unwrap();
        assert!(!memory_cgroup_available(&none, &v1));
        std::fs::write(&v1, "memory\t3\t80\t1\n").unwrap();
        assert!(memory_cgroup_available(&none, &v1));
    }

    #[test]
    fn signalling_a_group_that_is_gone_is_success() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        signal_group(pid, TERM).unwrap();
        assert!(!group_alive(pid));
    }
}
