-- Staging for the social-services enrollment lists. Only the pseudonym and programme facts are kept:
-- names, case workers, comments and the personnummer itself never reach the warehouse.

CREATE TABLE staging.enrollment_file (
    file_checksum   text PRIMARY KEY,              -- sha256 of the file bytes
    file_name       text        NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    status          text        NOT NULL CHECK (status IN ('loaded', 'rejected')),
    encoding        text,
    delimiter       text,
    rows_read       integer     NOT NULL DEFAULT 0,
    rows_loaded     integer     NOT NULL DEFAULT 0,
    rows_quarantined integer    NOT NULL DEFAULT 0,
    reject_reason   text,
    run_id          bigint
);

CREATE TABLE staging.enrollment (
    student_key         text    NOT NULL,
    programme           text    NOT NULL CHECK (programme IN ('PPSS', 'SkolFam', 'KP/KF')),
    start_date          date    NOT NULL,
    end_date            date,
    district_delivered  text    NOT NULL,          -- as named in the list (canonical spelling)
    district            text    NOT NULL,          -- today's district
    school_unit_code    text,
    birth_year          integer,
    coordination_number boolean NOT NULL DEFAULT false,
    file_checksum       text    NOT NULL,
    source_row          integer NOT NULL,
    updated_file_checksum text,
    loaded_at           timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    run_id              bigint,
    PRIMARY KEY (student_key, programme, start_date),
    CHECK (end_date IS NULL OR end_date >= start_date)
);
