-- The build never reads half a load (issue 10.2); see skolsam.warehouse.locks.
--
-- audit.staging_version: bumped (nextval) by every staging load inside its transaction while it holds the
-- shared staging lock. A build notes the value when its staging gate ran and compares it when it prepares
-- core: unchanged means core is built from exactly the staging the gate checked.
CREATE SEQUENCE audit.staging_version;

-- audit.staging_batch: a load that spans several transactions (the extract DAG: one task per entity) is
-- open here from its first task to its last (an Airflow setup/teardown pair). A build waits while any
-- batch is open, so it never reads persons of today beside grades of yesterday. expires_at ends a batch
-- whose teardown never ran (a killed worker); by default after the DAG run timeout.
CREATE TABLE audit.staging_batch (
    batch_id     bigserial   PRIMARY KEY,
    source       text        NOT NULL,          -- 'ss12000', a source id, ...
    run_ref      text,                          -- the Airflow run id, or 'cli'
    started_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    status       text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'finished', 'failed'))
);
CREATE INDEX staging_batch_open ON audit.staging_batch (expires_at) WHERE finished_at IS NULL;

-- audit.staging_row_count: the row count of each staging table when a staging gate last passed. The next
-- gate fails critically when a table is empty or shrank sharply against it (a truncated extract).
CREATE TABLE audit.staging_row_count (
    table_name   text        PRIMARY KEY,       -- schema.table
    row_count    bigint      NOT NULL,
    gate_id      text,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
