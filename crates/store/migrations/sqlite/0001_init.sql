-- Strata's control-plane schema (SQLite). Keep in step with ../postgres/0001_init.sql.
-- Times are milliseconds since the Unix epoch; JSON documents are TEXT; flags are 0/1 integers.
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE tenants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    quota TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    secret_sha256 TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER
);

CREATE TABLE nodes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    address TEXT NOT NULL,
    inventory TEXT NOT NULL,
    usage TEXT NOT NULL,
    state TEXT NOT NULL,
    cordoned INTEGER NOT NULL,
    draining INTEGER NOT NULL,
    registered_ms INTEGER NOT NULL,
    last_heartbeat_ms INTEGER NOT NULL
);

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    priority INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    reason TEXT,
    idempotency_key TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant_id, idempotency_key);
CREATE INDEX jobs_state ON jobs (state, id);
CREATE INDEX jobs_tenant ON jobs (tenant_id, id);

CREATE TABLE tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL REFERENCES jobs(id),
    attempt INTEGER NOT NULL,
    replica INTEGER NOT NULL,
    node_id INTEGER NOT NULL REFERENCES nodes(id),
    gpus TEXT NOT NULL,
    cpu_milli INTEGER NOT NULL,
    memory_mib INTEGER NOT NULL,
    gpu_milli INTEGER NOT NULL,
    state TEXT NOT NULL,
    exit_code INTEGER,
    message TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX tasks_job ON tasks (job_id, attempt, replica);
CREATE INDEX tasks_node_state ON tasks (node_id, state);
CREATE INDEX tasks_state ON tasks (state);

CREATE TABLE job_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL REFERENCES jobs(id),
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX job_events_job ON job_events (job_id, id);

CREATE TABLE task_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id INTEGER NOT NULL REFERENCES tasks(id),
    stream TEXT NOT NULL,
    byte_offset INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE UNIQUE INDEX task_logs_chunk ON task_logs (task_id, stream, byte_offset);
