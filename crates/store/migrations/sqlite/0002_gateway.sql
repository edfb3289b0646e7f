-- The applications layer (SQLite). Keep in step with ../postgres/0002_gateway.sql.
-- Tenants own projects; keys belong to a project, may be limited to some models, have per-minute
-- limits and a budget, and expire. `updated_ms` lets every gateway replica pick up changes
-- (a revocation) within its refresh interval without re-reading every key.
CREATE TABLE projects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);

-- Limits documents: {"rpm": N, "tpm": N, "budget_usd": X}, every field optional.
ALTER TABLE tenants ADD COLUMN limits TEXT NOT NULL DEFAULT '{}';
ALTER TABLE tenants ADD COLUMN updated_ms INTEGER NOT NULL DEFAULT 0;

ALTER TABLE api_keys ADD COLUMN project_id INTEGER REFERENCES projects(id);
ALTER TABLE api_keys ADD COLUMN name TEXT NOT NULL DEFAULT '';
-- The last characters of the secret, so a person can tell keys apart.
ALTER TABLE api_keys ADD COLUMN hint TEXT NOT NULL DEFAULT '';
-- A JSON array of model names the key may use; NULL means every model.
ALTER TABLE api_keys ADD COLUMN models TEXT;
ALTER TABLE api_keys ADD COLUMN limits TEXT NOT NULL DEFAULT '{}';
ALTER TABLE api_keys ADD COLUMN expires_ms INTEGER;
ALTER TABLE api_keys ADD COLUMN updated_ms INTEGER NOT NULL DEFAULT 0;
CREATE INDEX api_keys_updated ON api_keys (updated_ms);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, id);

-- Models served through the gateway. `spec` is the deployment document (model, backend,
-- resources, scaling, prices, fallbacks); `replicas` is the count asked for now.
CREATE TABLE deployments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    spec TEXT NOT NULL,
    replicas INTEGER NOT NULL,
    last_scale_ms INTEGER NOT NULL,
    -- Set when deleted: its replicas are stopped and the name may be used again.
    deleted_ms INTEGER,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
-- One live deployment per name.
CREATE UNIQUE INDEX deployments_live_name ON deployments (name) WHERE deleted_ms IS NULL;

-- Load each gateway replica reports for each deployment; the leader's autoscaler sums them.
CREATE TABLE deployment_load (
    deployment_id INTEGER NOT NULL REFERENCES deployments(id),
    gateway TEXT NOT NULL,
    in_flight INTEGER NOT NULL,
    last_request_ms INTEGER,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (deployment_id, gateway)
);

ALTER TABLE jobs ADD COLUMN deployment_id INTEGER REFERENCES deployments(id);
CREATE INDEX jobs_deployment ON jobs (deployment_id, state);
-- The port a task listens on (agents pick a free one for each task), and whether its health
-- check passes (written by the leader).
ALTER TABLE tasks ADD COLUMN port INTEGER;
ALTER TABLE tasks ADD COLUMN ready INTEGER NOT NULL DEFAULT 0;

-- One record per gateway request, written in batches from each gateway's journal;
-- `request_id` makes replaying a journal after a crash idempotent. Costs in pico-dollars.
CREATE TABLE usage_records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL UNIQUE,
    at_ms INTEGER NOT NULL,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    project_id INTEGER,
    key_id INTEGER,
    model TEXT NOT NULL,
    deployment_id INTEGER,
    replica TEXT,
    endpoint TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_pico INTEGER NOT NULL,
    latency_ms INTEGER NOT NULL,
    ttft_ms INTEGER,
    status INTEGER NOT NULL,
    streamed INTEGER NOT NULL
);
CREATE INDEX usage_tenant_at ON usage_records (tenant_id, at_ms);
CREATE INDEX usage_key_at ON usage_records (key_id, at_ms);
CREATE INDEX usage_at ON usage_records (at_ms);
