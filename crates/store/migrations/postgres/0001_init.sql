-- Strata's control-plane schema (PostgreSQL). Keep in step with ../sqlite/0001_init.sql.
-- Times are milliseconds since the Unix epoch; JSON documents are TEXT; flags are 0/1 integers.
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE tenants (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    quota TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    secret_sha256 TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL,
    revoked_ms BIGINT
);

CREATE TABLE nodes (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    address TEXT NOT NULL,
    inventory TEXT NOT NULL,
    usage TEXT NOT NULL,
    state TEXT NOT NULL,
    cordoned BIGINT NOT NULL,
    draining BIGINT NOT NULL,
    registered_ms BIGINT NOT NULL,
    last_heartbeat_ms BIGINT NOT NULL
);

CREATE TABLE jobs (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    priority BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    reason TEXT,
    idempotency_key TEXT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant_id, idempotency_key);
CREATE INDEX jobs_state ON jobs (state, id);
CREATE INDEX jobs_tenant ON jobs (tenant_id, id);

CREATE TABLE tasks (
    id BIGSERIAL PRIMARY KEY,
    job_id BIGINT NOT NULL REFERENCES jobs(id),
    attempt BIGINT NOT NULL,
    replica BIGINT NOT NULL,
    node_id BIGINT NOT NULL REFERENCES nodes(id),
    gpus TEXT NOT NULL,
    cpu_milli BIGINT NOT NULL,
    memory_mib BIGINT NOT NULL,
    gpu_milli BIGINT NOT NULL,
    state TEXT NOT NULL,
    exit_code BIGINT,
    message TEXT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX tasks_job ON tasks (job_id, attempt, replica);
CREATE INDEX tasks_node_state ON tasks (node_id, state);
CREATE INDEX tasks_state ON tasks (state);

CREATE TABLE job_events (
    id BIGSERIAL PRIMARY KEY,
    job_id BIGINT NOT NULL REFERENCES jobs(id),
    at_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX job_events_job ON job_events (job_id, id);

CREATE TABLE task_logs (
    id BIGSERIAL PRIMARY KEY,
    task_id BIGINT NOT NULL REFERENCES tasks(id),
    stream TEXT NOT NULL,
    byte_offset BIGINT NOT NULL,
    data BYTEA NOT NULL
);
CREATE UNIQUE INDEX task_logs_chunk ON task_logs (task_id, stream, byte_offset);
