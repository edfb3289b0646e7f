//! Running one assigned replica as a supervised process: its own process group (so a stop
//! reaches every process it forked), its output in files, its exit status kept until the
//! server acknowledges it.

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use strata_api::agent::{Assignment, TaskReport};
use strata_domain::TaskState;
use tokio::process::{Child, Command};

pub const STREAMS: [&str; 2] = ["stdout", "stderr"];

/// What the agent adds to every task it starts.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// The node's address; `{host}` in a command becomes this.
    pub host: String,
    /// Variables every task gets (`STRATA_MODELS`, where this node caches models).
    pub env: std::collections::BTreeMap<String, String>,
}

/// A port nobody listens on now. The task binds it moments later; another process taking it in
/// between makes the task fail and be retried, which is the price of not passing sockets.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("0.0.0.0", 0))?.local_addr()?.port())
}

/// The program to run: `strata` means this agent's own binary, so a replica needs no install
/// path; `{port}` and `{host}` in arguments become the task's port and the node's address.
fn resolve_command(command: &[String], port: u16, host: &str) -> std::io::Result<(PathBuf, Vec<String>)> {
    let (program, args) = command.split_first().ok_or_else(|| std::io::Error::other("empty command"))?;
    let program = if program == "strata" { std::env::current_exe()? } else { PathBuf::from(program) };
    let args = args.iter().map(|a| a.replace("{port}", &port.to_string()).replace("{host}", host)).collect();
    Ok((program, args))
}

pub struct Supervised {
    pub assignment: Assignment,
    pub dir: PathBuf,
    /// The port chosen for the task (`STRATA_PORT`).
    pub port: Option<u16>,
    child: Option<Child>,
    pgid: Option<i32>,
    pub state: TaskState,
    pub exit_code: Option<i32>,
    pub message: Option<String>,
    /// Bytes of each stream already uploaded.
    pub shipped: [u64; 2],
    /// Set once a stop was asked for: when SIGKILL follows the SIGTERM.
    kill_at: Option<Instant>,
}

impl Supervised {
    /// Starts the process. A program that cannot start yields a task that already failed,
    /// with the reason in its message and in its stderr log.
    pub fn start(assignment: Assignment, tasks_dir: &Path, launch: &Launch) -> Supervised {
        let dir = tasks_dir.join(assignment.task_id.to_string());
        let mut task = Supervised {
            assignment,
            dir,
            port: None,
            child: None,
            pgid: None,
            state: TaskState::Running,
            exit_code: None,
            message: None,
            shipped: [0, 0],
            kill_at: None,
        };
        if let Err(e) = task.spawn(launch) {
            let message = format!("cannot start {:?}: {e}", task.assignment.command.first().map_or("", String::as_str));
            let _ = std::fs::write(task.log_path("stderr"), format!("strata: {message}\n"));
            task.state = TaskState::Failed;
            task.message = Some(message);
        }
        task
    }

    fn spawn(&mut self, launch: &Launch) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let stdout = std::fs::File::create(self.log_path("stdout"))?;
        let stderr = std::fs::File::create(self.log_path("stderr"))?;
        let port = free_port()?;
        self.port = Some(port);
        let a = &self.assignment;
        let (program, args) = resolve_command(&a.command, port, &launch.host)?;
        let workdir = match &a.workdir {
            Some(w) => PathBuf::from(w),
            None => {
                let w = self.dir.join("work");
                std::fs::create_dir_all(&w)?;
                w
            }
        };
        let mut cmd = Command::new(program);
        cmd.args(args)
            .envs(&launch.env)
            .envs(&a.env)
            .env("STRATA_PORT", port.to_string())
            .current_dir(workdir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr))
            .process_group(0)
            .kill_on_drop(false);
        let child = cmd.spawn()?;
        self.pgid = child.id().map(|p| p as i32);
        if let Some(pgid) = self.pgid {
            // Lets a restarted agent find and stop what it left behind.
            let _ = std::fs::write(self.dir.join("pgid"), pgid.to_string());
        }
        self.child = Some(child);
        Ok(())
    }

    pub fn log_path(&self, stream: &str) -> PathBuf {
        self.dir.join(format!("{stream}.log"))
    }

    pub fn is_running(&self) -> bool {
        self.state == TaskState::Running
    }

    /// Checks whether the process ended; returns true when it just did.
    pub fn reap(&mut self) -> bool {
        let Some(child) = self.child.as_mut() else {
            return false;
        };
        match child.try_wait() {
            Ok(Some(status)) => {
                use std::os::unix::process::ExitStatusExt;
                let code = status.code().or_else(|| status.signal().map(|s| 128 + s));
                self.exit_code = code;
                self.state = if self.kill_at.is_some() {
                    TaskState::Cancelled
                } else if code == Some(0) {
                    TaskState::Succeeded
                } else {
                    TaskState::Failed
                };
                if let Some(sig) = status.signal() {
                    self.message = Some(format!("killed by signal {sig}"));
                }
                self.child = None;
                let _ = std::fs::remove_file(self.dir.join("pgid"));
                true
            }
            Ok(None) => {
                if self.kill_at.is_some_and(|t| Instant::now() >= t) {
                    self.signal(Signal::SIGKILL);
                }
                false
            }
            Err(e) => {
                tracing::warn!(task = self.assignment.task_id, error = %e, "cannot wait for task");
                false
            }
        }
    }

    /// SIGTERM to the whole process group now, SIGKILL after `grace` if it is still there.
    pub fn stop(&mut self, grace: Duration) {
        if self.kill_at.is_none() && self.child.is_some() {
            self.signal(Signal::SIGTERM);
            self.kill_at = Some(Instant::now() + grace);
        }
    }

    fn signal(&self, sig: Signal) {
        if let Some(pgid) = self.pgid {
            let _ = killpg(Pid::from_raw(pgid), sig);
        }
    }

    /// Whether every byte the task wrote has been uploaded.
    pub fn logs_shipped(&self) -> bool {
        STREAMS
            .iter()
            .zip(self.shipped)
            .all(|(stream, shipped)| std::fs::metadata(self.log_path(stream)).map_or(true, |m| m.len() <= shipped))
    }

    /// The state to tell the server. A finished task whose output is not all uploaded yet is
    /// still reported as running, so a job never shows as done with part of its logs.
    pub fn report(&self) -> TaskReport {
        let state =
            if self.state != TaskState::Running && !self.logs_shipped() { TaskState::Running } else { self.state };
        TaskReport {
            task_id: self.assignment.task_id,
            state,
            exit_code: self.exit_code,
            message: self.message.clone(),
            port: self.port,
        }
    }
}

/// Stops the process groups a previous run of the agent left behind (it cannot wait for them,
/// so it reports them lost instead of adopting them). A group is only killed if its leader is
/// still the task's process — its environment names the task — so a recycled pid is spared.
pub fn kill_leftovers(tasks_dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(tasks_dir) else { return 0 };
    let mut killed = 0;
    for entry in entries.flatten() {
        let file = entry.path().join("pgid");
        let Some(pgid) = std::fs::read_to_string(&file).ok().and_then(|s| s.trim().parse::<i32>().ok()) else {
            continue;
        };
        let task = entry.file_name().to_string_lossy().into_owned();
        if is_task_process(pgid, &task) && killpg(Pid::from_raw(pgid), Signal::SIGKILL).is_ok() {
            killed += 1;
        }
        let _ = std::fs::remove_file(&file);
    }
    killed
}

/// Whether process `pid` runs with `STRATA_TASK_ID=<task>` in its environment.
fn is_task_process(pid: i32, task: &str) -> bool {
    let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else { return false };
    let wanted = format!("STRATA_TASK_ID={task}");
    environ.split(|b| *b == 0).any(|var| var == wanted.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_the_own_binary_are_resolved() {
        let command: Vec<String> =
            ["strata", "serve", "m", "--port", "{port}", "--host", "{host}"].map(String::from).into();
        let (program, args) = resolve_command(&command, 4321, "10.0.0.5").unwrap();
        assert_eq!(program, std::env::current_exe().unwrap());
        assert_eq!(args, ["serve", "m", "--port", "4321", "--host", "10.0.0.5"]);
        let (program, _) = resolve_command(&["sh".to_string()], 1, "h").unwrap();
        assert_eq!(program, PathBuf::from("sh"));
    }
    use std::os::unix::process::CommandExt;

    #[test]
    fn leftovers_are_killed_only_when_the_pid_is_still_the_task() {
        let dir = tempfile::tempdir().unwrap();
        let mut child =
            std::process::Command::new("sleep").arg("30").env("STRATA_TASK_ID", "7").process_group(0).spawn().unwrap();
        let pid = child.id() as i32;
        // Under load the new process may not show its own environment in /proc at once.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !is_task_process(pid, "7") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        // Task 8 claims the same pid: its environment says otherwise, so nothing is killed.
        std::fs::create_dir_all(dir.path().join("8")).unwrap();
        std::fs::write(dir.path().join("8").join("pgid"), pid.to_string()).unwrap();
        assert_eq!(kill_leftovers(dir.path()), 0);
        assert!(child.try_wait().unwrap().is_none(), "an unrelated process survives");
        std::fs::create_dir_all(dir.path().join("7")).unwrap();
        std::fs::write(dir.path().join("7").join("pgid"), pid.to_string()).unwrap();
        assert_eq!(kill_leftovers(dir.path()), 1);
        let status = child.wait().unwrap();
        assert!(!status.success());
        assert!(!dir.path().join("7").join("pgid").exists());
    }
}
