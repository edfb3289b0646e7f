-- Spending per key and per tenant, kept up to date in the same transaction that inserts usage
-- records: budgets are checked against these rows instead of summing every usage record (which,
-- at millions of records, took longer than the half-second budget refresh it served).
CREATE TABLE spend_totals (
    scope TEXT NOT NULL,
    scope_id BIGINT NOT NULL,
    cost_pico BIGINT NOT NULL,
    PRIMARY KEY (scope, scope_id)
);
INSERT INTO spend_totals (scope, scope_id, cost_pico)
    SELECT 'tenant', tenant_id, CAST(SUM(cost_pico) AS BIGINT) FROM usage_records GROUP BY tenant_id;
INSERT INTO spend_totals (scope, scope_id, cost_pico)
    SELECT 'key', key_id, CAST(SUM(cost_pico) AS BIGINT) FROM usage_records WHERE key_id IS NOT NULL GROUP BY key_id;
