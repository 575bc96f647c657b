-- Audit trail: every task run, every rejected record, every quality check, every erasure.
-- None of these tables holds a personnummer, a name or a source person id.

CREATE TABLE audit.load_run (
    run_id            bigserial PRIMARY KEY,
    source            text        NOT NULL,          -- 'ss12000', 'enrollment', 'warehouse', 'quality', ...
    entity            text        NOT NULL,          -- 'grades', 'persons', a file name, 'mart', ...
    dag_id            text,
    task_id           text,
    airflow_run_id    text,
    started_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    status            text        NOT NULL DEFAULT 'running'
                      CHECK (status IN ('running', 'success', 'failed', 'skipped', 'rejected')),
    rows_read         bigint      NOT NULL DEFAULT 0,
    rows_loaded       bigint      NOT NULL DEFAULT 0,
    rows_quarantined  bigint      NOT NULL DEFAULT 0,
    rows_deleted      bigint      NOT NULL DEFAULT 0,
    watermark         text,
    message           text
);
CREATE INDEX load_run_source_entity ON audit.load_run (source, entity, started_at DESC);

CREATE TABLE audit.quarantine (
    quarantine_id   bigserial PRIMARY KEY,
    run_id          bigint REFERENCES audit.load_run (run_id) ON DELETE SET NULL,
    source          text        NOT NULL,
    entity          text        NOT NULL,            -- SS 12000 entity or enrollment file name
    file_checksum   text,
    row_number      bigint,                          -- 1-based data row in a file, or record index in a page
    record_ref      text,                            -- student_key, a keyed source ref or an SS 12000 object id: never a raw identity
    reason_code     text        NOT NULL,
    detail          text,                            -- machine-made, never copies input values
    quarantined_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quarantine_run ON audit.quarantine (run_id);
CREATE INDEX quarantine_reason ON audit.quarantine (source, reason_code);

-- Incremental extraction state: advanced only in the transaction that commits the load.
CREATE TABLE audit.watermark (
    source      text NOT NULL,
    entity      text NOT NULL,
    watermark   text NOT NULL,
    run_id      bigint REFERENCES audit.load_run (run_id) ON DELETE SET NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, entity)
);

CREATE TABLE audit.dq_result (
    dq_result_id    bigserial PRIMARY KEY,
    run_id          bigint REFERENCES audit.load_run (run_id) ON DELETE SET NULL,
    validation_id   text        NOT NULL,            -- one id per suite validation
    suite           text        NOT NULL,
    table_name      text        NOT NULL,
    expectation     text        NOT NULL,            -- expectation type and column(s)
    severity        text        NOT NULL CHECK (severity IN ('critical', 'warning')),
    success         boolean     NOT NULL,
    observed_value  text,
    unexpected_count bigint,
    checked_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dq_result_suite ON audit.dq_result (suite, checked_at DESC);

-- Erasures are recorded without the identity: when, why and how many rows per table.
CREATE TABLE audit.erasure (
    erasure_id    bigserial PRIMARY KEY,
    run_id        bigint REFERENCES audit.load_run (run_id) ON DELETE SET NULL,
    reason        text        NOT NULL CHECK (reason IN ('consent_withdrawn', 'erasure_request')),
    rows_removed  jsonb       NOT NULL,              -- {"staging.enrollment": 2, ...}
    erased_at     timestamptz NOT NULL DEFAULT now()
);

-- Pupils who must never be stored again (consent withdrawn or erasure requested), by pseudonym only:
-- loads drop any incoming record whose student_key or person_ref is listed here.
CREATE TABLE audit.erased_key (
    student_key  text PRIMARY KEY,
    reason       text        NOT NULL,
    erased_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE audit.erased_ref (
    person_ref   text PRIMARY KEY,               -- keyed ref of the SS 12000 person id of an erased pupil
    erased_at    timestamptz NOT NULL DEFAULT now()
);
