-- What each extract read, per source, term and entity (DESIGN 3.1.3): the build tells a term whose
-- attendance window was never read from a term where the school reported nothing.
CREATE TABLE audit.extract_coverage (
    source        text        NOT NULL,          -- 'ss12000' (one school system), later a source id
    term          text        NOT NULL,
    entity        text        NOT NULL,          -- SS 12000 entity
    window_start  date,                          -- aggregatedAttendance: the window read
    window_end    date,
    rows_read     bigint      NOT NULL DEFAULT 0,
    run_id        bigint REFERENCES audit.load_run (run_id) ON DELETE SET NULL,
    read_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, term, entity)
);

-- Per term and source: was the attendance window read? Built by sql/models/core/075_term_attendance_status.sql.
-- An absence figure of a term with status 'never_read' is NULL for that reason, not because the school
-- reported nothing.
CREATE TABLE core.term_attendance_status (
    term          text        NOT NULL,
    source        text        NOT NULL,
    status        text        NOT NULL CHECK (status IN ('read', 'never_read')),
    reason        text,                          -- 'attendance_window_never_extracted' when never_read
    window_start  date,
    window_end    date,
    read_at       timestamptz,
    PRIMARY KEY (term, source)
);
