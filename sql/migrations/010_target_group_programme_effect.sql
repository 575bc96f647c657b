-- mart.target_group and mart.programme_effect (DESIGN 5), their candidates, and the analysts' access.
-- Column names, types and order are declared in src/skolsam/warehouse/dictionary.py (the marts' one
-- table spec); a test checks these tables against it.

-- Is the programme reaching its target group? Counts per term, school unit and school year ('ALL' totals).
CREATE TABLE mart.target_group (
    term                   text    NOT NULL,
    school_unit_code       text    NOT NULL,              -- a school unit code or 'ALL'
    school_year            text    NOT NULL,              -- '6' … '9' or 'ALL'
    n_pupils               integer,
    n_target               integer,
    n_target_enrolled      integer,
    coverage_share         double precision,
    n_enrolled_not_target  integer,
    suppressed             boolean NOT NULL,
    PRIMARY KEY (term, school_unit_code, school_year),
    CHECK (NOT suppressed OR n_pupils IS NULL)
);

-- Does a programme help? Difference-in-differences estimates with their uncertainty.
CREATE TABLE mart.programme_effect (
    term            text    NOT NULL,                     -- the latest term the estimate uses
    programme       text    NOT NULL,                     -- PPSS, SkolFam, KP/KF or 'ALL'
    district        text    NOT NULL,                     -- today's district or 'ALL'
    outcome         text    NOT NULL CHECK (outcome IN ('share_passed', 'merit_value', 'absence_rate')),
    event_term      integer NOT NULL CHECK (event_term >= 0),
    estimator       text    NOT NULL CHECK (estimator IN ('did', 'did_prev_term')),
    estimate        double precision,
    ci_low          double precision,
    ci_high         double precision,
    se              double precision,
    df              integer,
    n_participants  integer,
    n_comparison    integer,
    n_schools       integer,
    n_excluded      integer,
    verdict         text    NOT NULL CHECK (verdict IN ('förbättring', 'försämring', 'osäkert', 'för få elever')),
    suppressed      boolean NOT NULL,
    PRIMARY KEY (term, programme, district, outcome, event_term, estimator),
    CHECK (NOT suppressed OR (estimate IS NULL AND n_participants IS NULL))
);

CREATE TABLE mart_candidate.target_group (LIKE mart.target_group INCLUDING ALL);
CREATE TABLE mart_candidate.programme_effect (LIKE mart.programme_effect INCLUDING ALL);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'skolsam_loader') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON mart.target_group, mart.programme_effect,
            mart_candidate.target_group, mart_candidate.programme_effect TO skolsam_loader;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'skolsam_analyst') THEN
        GRANT SELECT ON mart.target_group, mart.programme_effect TO skolsam_analyst;
    END IF;
END $$;
