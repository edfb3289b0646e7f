//! Starts real `strata` processes (server, agents, `up`) on loopback and talks to them over
//! HTTP. Every process is killed when its handle drops, so a failing test leaves nothing behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use strata_client::Client;

pub const BIN: &str = env!("CARGO_BIN_EXE_strata");

/// Short loops so failures show in seconds, not minutes.
pub const TIMING: [&str; 6] =
    ["--heartbeat-interval-ms", "200", "--heartbeat-timeout-ms", "2000", "--schedule-interval-ms", "100"];

pub struct Proc {
    pub child: Child,
}

impl Proc {
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn spawn(args: &[&str], log: &Path) -> Proc {
    spawn_env(args, log, &[])
}

/// The model cache of the user running the tests (`.ci/run` pulls SmolLM2 into it).
pub fn user_models_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    strata_models::models_dir(&home.join(".strata"))
}

/// Whether the real SmolLM2 is cached; tests that need it say so and skip when it is not.
pub fn smollm2_available(test: &str) -> bool {
    let dir = user_models_dir();
    let found = strata_models::registry::resolve(&dir, "smollm2").is_ok();
    if !found {
        eprintln!("{test} skipped: smollm2 is not in {} — run `strata model pull smollm2` (CI does)", dir.display());
    }
    found
}

pub fn spawn_env(args: &[&str], log: &Path, env: &[(String, String)]) -> Proc {
    let out = std::fs::File::create(log).unwrap();
    let child = Command::new(BIN)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("STRATA_LOG", "info")
        .env_remove("STRATA_SERVER")
        .env_remove("STRATA_TOKEN")
        .env_remove("STRATA_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    Proc { child }
}

/// Kills every process whose working directory is under `dir`: the tasks (model servers, jobs)
/// that agents started there. An agent killed with SIGKILL leaves its tasks running on purpose
/// (a restarted agent stops them); a test that ends must not leave them behind.
pub fn kill_tasks_under(dir: &Path) {
    let Ok(entries) = std::fs::read_dir("/proc") else { return };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        if std::fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(dir)) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// Calls [`kill_tasks_under`] for its directory when dropped, for tests that run `strata up`.
pub struct KillTasksOnDrop(pub PathBuf);

impl Drop for KillTasksOnDrop {
    fn drop(&mut self) {
        kill_tasks_under(&self.0);
    }
}

/// Polls `f` until it returns `Some` or `timeout` passes.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A control plane on a fresh database, plus the agents a test starts.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub database_url: String,
    pub server: Option<Proc>,
    pub url: String,
    pub admin: Client,
    pub join_token: String,
    pub agents: Vec<Proc>,
    agent_args: Vec<Vec<String>>,
    /// Environment of every process the cluster starts; points them at the user's model cache.
    pub env: Vec<(String, String)>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.agents.clear();
        self.server = None;
        kill_tasks_under(self.dir.path());
    }
}

impl Cluster {
    pub async fn start() -> Cluster {
        Cluster::start_with_env(&[]).await
    }

    /// Like `start`, with more environment for every process (gateway timings, say).
    pub async fn start_with_env(env: &[(&str, &str)]) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let database_url = strata_store::fresh_database_url(dir.path()).await.unwrap();
        let mut cluster = Cluster {
            dir,
            database_url,
            server: None,
            url: String::new(),
            admin: Client::new("http://127.0.0.1:1", "none"),
            join_token: String::new(),
            agents: Vec::new(),
            agent_args: Vec::new(),
            env: vec![("STRATA_MODELS".into(), user_models_dir().display().to_string())],
        };
        cluster.env.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        cluster.start_server().await;
        cluster
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts a `strata server` on the cluster's database with its data in `name`, and returns it
    /// with its URL once it has recorded one.
    pub async fn spawn_server(&self, name: &str) -> (Proc, String) {
        let data = self.path(name);
        let _ = std::fs::remove_file(data.join("server.url"));
        let n = std::fs::read_dir(self.dir.path()).map(|d| d.count()).unwrap_or(0);
        let mut args = vec![
            "server",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
            "--database-url",
            &self.database_url,
        ];
        args.extend(TIMING);
        let proc = spawn_env(&args, &self.path(&format!("{name}-{n}.log")), &self.env);
        let url_file = data.join("server.url");
        let url = wait_for("server.url", Duration::from_secs(30), || {
            let f = url_file.clone();
            async move { std::fs::read_to_string(f).ok() }
        })
        .await;
        (proc, url)
    }

    /// Starts (or restarts) the server on the cluster's database and waits until it answers.
    pub async fn start_server(&mut self) {
        let (proc, url) = self.spawn_server("server").await;
        self.server = Some(proc);
        self.url = url;
        let data = self.path("server");
        let admin = std::fs::read_to_string(data.join("admin.token")).unwrap();
        self.join_token = std::fs::read_to_string(data.join("join.token")).unwrap();
        self.admin = Client::new(&self.url, admin.trim());
        let admin = self.admin.clone();
        // Generous: on 2 cores with every integration test starting servers on one PostgreSQL
        // at once, the first answer once took over 30 s.
        wait_for("server health", Duration::from_secs(60), || {
            let a = admin.clone();
            async move { a.whoami().await.ok() }
        })
        .await;
    }

    /// Starts an agent named `name` with emulated accelerators and waits until it is ready.
    pub async fn add_agent(&mut self, name: &str, emulate: &str, extra: &[&str]) -> usize {
        let data = self.path(&format!("agent-{name}"));
        let mut args = vec![
            "agent",
            "--server",
            &self.url,
            "--token",
            self.join_token.trim(),
            "--name",
            name,
            "--emulate",
            emulate,
            "--data-dir",
            data.to_str().unwrap(),
            "--grace-secs",
            "2",
        ];
        args.extend(extra);
        let log = self.path(&format!("agent-{name}.log"));
        self.agents.push(spawn_env(&args, &log, &self.env));
        self.agent_args.push(args.iter().map(|a| a.to_string()).collect());
        let admin = self.admin.clone();
        let wanted = name.to_string();
        wait_for("agent ready", Duration::from_secs(30), || {
            let a = admin.clone();
            let w = wanted.clone();
            async move {
                let nodes = a.nodes().await.ok()?;
                nodes.nodes.iter().any(|n| n.name == w && n.state == strata_api::nodes::NodeState::Ready).then_some(())
            }
        })
        .await;
        self.agents.len() - 1
    }

    /// Starts agent `index` again with the arguments it first had (same name, same data).
    pub fn restart_agent(&mut self, index: usize) {
        let args: Vec<&str> = self.agent_args[index].iter().map(String::as_str).collect();
        let log = self.path(&format!("agent-{index}-restarted.log"));
        self.agents[index] = spawn_env(&args, &log, &self.env);
    }

    /// The admin token, as `strata` commands take it on `--token`.
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.path("server").join("admin.token")).unwrap().trim().to_string()
    }

    pub fn kill_server(&mut self) {
        if let Some(mut s) = self.server.take() {
            // SIGKILL: no shutdown hooks run.
            s.kill();
        }
    }

    /// The server's log, for assertion messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "log") {
                out += &format!("==== {}\n{}\n", p.display(), std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
        out
    }
}

/// Waits until job `id` reaches a final state and returns it.
pub async fn wait_done(client: &Client, id: i64, timeout: Duration) -> strata_api::jobs::Job {
    wait_for(&format!("job {id} to finish"), timeout, || {
        let c = client.clone();
        async move {
            let job = c.job(id).await.ok()?;
            job.state.is_terminal().then_some(job)
        }
    })
    .await
}

/// A job's whole output (all replicas, both streams) as text.
pub async fn logs(client: &Client, id: i64, replica: Option<u32>) -> String {
    use futures::StreamExt;
    let q = strata_api::jobs::LogQuery { replica, ..Default::default() };
    let mut stream = Box::pin(client.job_logs(id, &q).await.unwrap());
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend(chunk.unwrap());
    }
    String::from_utf8(out).unwrap()
}

pub fn submit(command: &[&str]) -> strata_api::jobs::SubmitJob {
    strata_api::jobs::SubmitJob {
        name: None,
        command: command.iter().map(|s| s.to_string()).collect(),
        env: Default::default(),
        workdir: None,
        replicas: None,
        cpu_milli: Some(100),
        memory_mib: Some(64),
        gpu_milli: None,
        gpu_models: vec![],
        preferred_gpu_models: vec![],
        priority: None,
        max_retries: None,
        checkpoint_dir: None,
        preemptible: None,
        runtime_estimate_s: None,
        tenant: None,
        idempotency_key: None,
        node_labels: Default::default(),
        max_replicas_per_node: None,
        spread_group: None,
    }
}
