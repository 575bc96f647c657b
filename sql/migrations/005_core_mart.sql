-- Core (dimensions and facts), the published marts (DESIGN 5) and their candidates, and the roles.
-- The build (src/skolsam/warehouse/build.py + sql/models/) fills these tables; it never creates or drops them.
-- Business rules are documented beside the models in sql/models/ and in docs/data_dictionary.md.

CREATE SCHEMA IF NOT EXISTS mart_candidate;

-- ---------------------------------------------------------------------------------------------------------
-- Build inputs written by build.py before the SQL models run
-- ---------------------------------------------------------------------------------------------------------

-- Settings (thresholds) of the current build: the models read them from here, never from literals.
CREATE TABLE core.build_parameter (
    name   text PRIMARY KEY,
    value  text NOT NULL
);

-- A named parameter of the current build; raises if it is missing so a model cannot run on a silent NULL.
CREATE FUNCTION core.param(p_name text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE v text;
BEGIN
    SELECT value INTO v FROM core.build_parameter WHERE name = p_name;
    IF v IS NULL THEN
        RAISE EXCEPTION 'build parameter % is not set', p_name;
    END IF;
    RETURN v;
END $$;

-- The terms whose candidate marts this build computes.
CREATE TABLE core.build_term (
    term  text PRIMARY KEY
);

-- The build whose candidates sit in mart_candidate (publish refuses to publish another build's candidates).
CREATE TABLE core.build_info (
    build_id     text PRIMARY KEY,
    prepared_at  timestamptz NOT NULL DEFAULT now(),
    terms        text[]      NOT NULL,
    run_id       bigint
);

-- The term calendar (skolsam.terms.load_calendar) and the district names (skolsam.districts.NAMES) as seeds.
CREATE TABLE core.seed_term_calendar (
    term        text PRIMARY KEY,
    start_date  date NOT NULL,
    end_date    date NOT NULL
);
CREATE TABLE core.seed_district_name (
    name              text PRIMARY KEY,
    current_district  text NOT NULL,
    valid_from        date,
    valid_to          date
);

-- ---------------------------------------------------------------------------------------------------------
-- Dimensions
-- ---------------------------------------------------------------------------------------------------------
CREATE TABLE core.dim_term (
    term        text    PRIMARY KEY,              -- HT2025, VT2026
    semester    text    NOT NULL CHECK (semester IN ('HT', 'VT')),
    year        integer NOT NULL,
    term_order  integer NOT NULL UNIQUE,          -- year * 2 (+1 for HT): VT2025 < HT2025 < VT2026
    start_date  date    NOT NULL,
    end_date    date    NOT NULL,
    prev_term   text    NOT NULL,                 -- always named, whether or not it is in the calendar
    CHECK (end_date >= start_date)
);

CREATE TABLE core.dim_district (
    name              text PRIMARY KEY,           -- a name lists may carry, current or historical
    current_district  text NOT NULL,              -- today's district
    valid_from        date,
    valid_to          date
);

CREATE TABLE core.dim_school_unit (
    school_unit_id    uuid PRIMARY KEY,           -- SS 12000 organisation id
    school_unit_code  text,
    name              text NOT NULL,
    district          text                        -- today's district of the parent Förvaltning, if it is one
);
CREATE INDEX dim_school_unit_code ON core.dim_school_unit (school_unit_code);

CREATE TABLE core.dim_subject (
    subject_designation  text PRIMARY KEY,        -- MA, SV, SVA, M2SPA, MLARA, ...
    subject_name         text,
    kind                 text NOT NULL CHECK (kind IN ('ordinary', 'moderna_sprak', 'modersmal')),
    -- the subject's slot in the merit value and eligibility: SV and SVA share the slot 'SV/SVA'
    slot                 text NOT NULL,
    core_subject         boolean NOT NULL,        -- SV/SVA, EN, MA
    hp_ek_hu_sa_required boolean NOT NULL,        -- GE, HI, RE, SH
    hp_na_te_required    boolean NOT NULL         -- BI, FY, KE
);

CREATE TABLE core.dim_pupil (
    student_key  text    PRIMARY KEY,
    sex          text    NOT NULL CHECK (sex IN ('Man', 'Kvinna', 'Okänt')),
    birth_year   integer,
    protected    boolean NOT NULL                 -- aggregates only, never in a student-level mart
);

-- ---------------------------------------------------------------------------------------------------------
-- Facts
-- ---------------------------------------------------------------------------------------------------------
CREATE TABLE core.fact_grade (
    student_key          text        NOT NULL,
    term                 text        NOT NULL,    -- semester || year of the grade
    subject_designation  text        NOT NULL,
    grade_id             uuid        NOT NULL,
    grade_value          text        NOT NULL CHECK (grade_value IN ('A', 'B', 'C', 'D', 'E', 'F', '-')),
    points               numeric(3, 1) NOT NULL,
    passed               boolean     NOT NULL,
    registered_date      date        NOT NULL,
    modified_at          timestamptz NOT NULL,
    PRIMARY KEY (student_key, term, subject_designation)
);
CREATE INDEX fact_grade_term ON core.fact_grade (term);

CREATE TABLE core.fact_term_attendance (
    student_key              text   NOT NULL,
    term                     text   NOT NULL,
    window_start             date   NOT NULL,
    window_end               date   NOT NULL,
    offered_minutes          bigint,
    attended_minutes         bigint,
    valid_absence_minutes    bigint,
    invalid_absence_minutes  bigint,
    PRIMARY KEY (student_key, term)
);

CREATE TABLE core.fact_pupil_term (
    student_key       text    NOT NULL,
    term              text    NOT NULL,
    school_unit_id    uuid    NOT NULL,
    school_unit_code  text,
    school_year       integer,
    school_type       text,
    overlap_days      integer NOT NULL,
    PRIMARY KEY (student_key, term)
);

CREATE TABLE core.fact_enrollment (
    student_key         text NOT NULL,
    programme           text NOT NULL,
    start_date          date NOT NULL,
    end_date            date,
    effective_end_date  date NOT NULL,            -- end_date, or the build's as_of_date if open or later
    district_delivered  text NOT NULL,
    district            text NOT NULL,            -- today's district
    school_unit_code    text,
    PRIMARY KEY (student_key, programme, start_date)
);

CREATE TABLE core.fact_participation (
    student_key   text    NOT NULL,
    programme     text    NOT NULL,
    term          text    NOT NULL,
    district      text    NOT NULL,               -- today's district, of the period overlapping the term most
    overlap_days  integer NOT NULL,               -- days of the longest qualifying period inside the term
    PRIMARY KEY (student_key, programme, term)
);
CREATE INDEX fact_participation_term ON core.fact_participation (term);

-- Per pupil and term: where they are, and every measure of DESIGN 6 (participants and comparison alike).
CREATE TABLE core.pupil_term_measure (
    student_key              text    NOT NULL,
    term                     text    NOT NULL,
    school_unit_id           uuid,
    school_unit_code         text,
    school_year              integer,
    subjects_graded          integer NOT NULL,
    subjects_passed          integer NOT NULL,
    share_passed             double precision,
    merit_value              numeric(4, 1),
    eligible_vocational      boolean,
    eligible_hp_ek_hu_sa     boolean,
    eligible_hp_na_te        boolean,
    eligible_hp_es           boolean,
    offered_minutes          bigint,
    attended_minutes         bigint,
    valid_absence_minutes    bigint,
    invalid_absence_minutes  bigint,
    absence_rate             double precision,
    invalid_absence_rate     double precision,
    absence_band             text,
    high_absence             boolean,             -- exact comparison with the band thresholds
    very_high_absence        boolean,
    PRIMARY KEY (student_key, term)
);

-- ---------------------------------------------------------------------------------------------------------
-- The marts (DESIGN 5): column names and order are the analysts' contract
-- ---------------------------------------------------------------------------------------------------------
CREATE TABLE mart.participant_term (
    student_key              text    NOT NULL,
    programme                text    NOT NULL CHECK (programme IN ('PPSS', 'SkolFam', 'KP/KF')),
    term                     text    NOT NULL,
    district                 text    NOT NULL,
    school_unit_code         text,
    school_year              integer,
    sex                      text    NOT NULL CHECK (sex IN ('Kvinna', 'Man', 'Okänt')),
    subjects_graded          integer NOT NULL,
    subjects_passed          integer NOT NULL,
    share_passed             double precision,
    merit_value              numeric(4, 1),
    eligible_vocational      boolean,
    eligible_hp_ek_hu_sa     boolean,
    eligible_hp_na_te        boolean,
    eligible_hp_es           boolean,
    offered_minutes          bigint,
    attended_minutes         bigint,
    valid_absence_minutes    bigint,
    invalid_absence_minutes  bigint,
    absence_rate             double precision,
    invalid_absence_rate     double precision,
    absence_band             text,
    prev_term                text    NOT NULL,
    prev_share_passed        double precision,
    share_passed_change      double precision,
    prev_merit_value         numeric(4, 1),
    merit_value_change       numeric(4, 1),
    prev_absence_rate        double precision,
    absence_rate_change      double precision,
    PRIMARY KEY (term, programme, student_key)
);

CREATE TABLE mart.group_term (
    term                       text    NOT NULL,
    population                 text    NOT NULL CHECK (population IN ('participants', 'comparison')),
    programme                  text    NOT NULL,
    district                   text    NOT NULL,
    sex                        text    NOT NULL,
    school_year                text    NOT NULL,
    n_students                 integer,
    share_passed_mean          double precision,
    improved_share             double precision,
    merit_value_mean           double precision,
    eligible_vocational_share  double precision,
    absence_rate_mean          double precision,
    high_absence_share         double precision,
    very_high_absence_share    double precision,
    suppressed                 boolean NOT NULL,
    PRIMARY KEY (term, population, programme, district, sex, school_year),
    CHECK (NOT suppressed OR n_students IS NULL)
);

-- Candidates: the same shapes, checked by the quality gate before publish copies them into mart.
CREATE TABLE mart_candidate.participant_term (LIKE mart.participant_term INCLUDING ALL);
CREATE TABLE mart_candidate.group_term (LIKE mart.group_term INCLUDING ALL);

-- ---------------------------------------------------------------------------------------------------------
-- Roles (DESIGN 4). Roles are cluster-wide: create each only if missing, tolerate a concurrent creation,
-- and leave role creation to a DBA when this user may not create roles. Grants are idempotent.
-- ---------------------------------------------------------------------------------------------------------
DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['skolsam_loader', 'skolsam_analyst', 'skolsam_reader'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION
                WHEN duplicate_object OR unique_violation THEN NULL;   -- created meanwhile by another session
                WHEN insufficient_privilege THEN
                    RAISE WARNING 'role % is missing and this user may not create roles; grants to it are skipped', r;
            END;
        END IF;
    END LOOP;
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'skolsam_loader') THEN
        GRANT USAGE ON SCHEMA staging, core, mart, mart_candidate, audit TO skolsam_loader;
        GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE
            ON ALL TABLES IN SCHEMA staging, core, mart, mart_candidate, audit TO skolsam_loader;
        GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA audit TO skolsam_loader;
        GRANT EXECUTE ON FUNCTION core.param(text) TO skolsam_loader;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'skolsam_analyst') THEN
        GRANT USAGE ON SCHEMA mart TO skolsam_analyst;
        GRANT SELECT ON mart.participant_term, mart.group_term TO skolsam_analyst;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'skolsam_reader') THEN
        GRANT USAGE ON SCHEMA mart TO skolsam_reader;
        GRANT SELECT ON mart.group_term TO skolsam_reader;
        REVOKE ALL ON mart.participant_term FROM skolsam_reader;
    END IF;
END $$;
