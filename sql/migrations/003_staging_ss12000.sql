-- Staging for the SS 12000 extract. Pseudonymised at the door: persons carry student_key (HMAC of the
-- civic number) and person_ref (HMAC of the source person id); neither raw value is stored.

CREATE TABLE staging.ss12000_organisation (
    id                 uuid PRIMARY KEY,
    display_name       text        NOT NULL,
    organisation_type  text        NOT NULL,
    organisation_code  text,
    school_unit_code   text,
    municipality_code  text,
    parent_id          uuid,
    school_types       text[],
    start_date         date,
    end_date           date,
    modified_at        timestamptz NOT NULL,
    run_id             bigint
);

CREATE TABLE staging.ss12000_person (
    person_ref    text PRIMARY KEY,
    student_key   text        NOT NULL,
    sex           text        NOT NULL CHECK (sex IN ('Man', 'Kvinna', 'Okänt')),
    birth_year    integer,
    protected     boolean     NOT NULL,   -- securityMarking other than 'Ingen'
    modified_at   timestamptz NOT NULL,
    run_id        bigint
);
CREATE INDEX ss12000_person_key ON staging.ss12000_person (student_key);

CREATE TABLE staging.ss12000_enrolment (
    person_ref      text    NOT NULL REFERENCES staging.ss12000_person (person_ref) ON DELETE CASCADE,
    ordinal         integer NOT NULL,       -- position in the person's enrolments[]
    school_unit_id  uuid    NOT NULL,
    school_type     text    NOT NULL,
    school_year     integer,
    start_date      date    NOT NULL,
    end_date        date,
    cancelled       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (person_ref, ordinal)
);

CREATE TABLE staging.ss12000_syllabus (
    id                   uuid PRIMARY KEY,
    subject_designation  text,
    subject_code         text,
    subject_name         text    NOT NULL,
    school_type          text    NOT NULL,
    language_code        text,
    official             boolean NOT NULL,
    modified_at          timestamptz NOT NULL,
    run_id               bigint
);

CREATE TABLE staging.ss12000_grade (
    id               uuid PRIMARY KEY,
    person_ref       text        NOT NULL,
    organisation_id  uuid,
    syllabus_id      uuid        NOT NULL,
    grade_value      text        NOT NULL,
    semester         text,
    year             integer,
    registered_date  date        NOT NULL,
    correction_type  text,
    trial            boolean     NOT NULL DEFAULT false,
    final_grade      boolean,
    modified_at      timestamptz NOT NULL,
    run_id           bigint
);
CREATE INDEX ss12000_grade_person ON staging.ss12000_grade (person_ref);

-- Aggregated attendance as the API sums it over a term window (DESIGN 3.1), one row per student,
-- activity and window. Re-extracting a window replaces its rows.
CREATE TABLE staging.ss12000_attendance (
    person_ref                text    NOT NULL,
    activity_id               uuid    NOT NULL,
    term                      text    NOT NULL,
    window_start              date    NOT NULL,
    window_end                date    NOT NULL,
    offered_minutes           integer,
    attendance_minutes        integer NOT NULL,
    valid_absence_minutes     integer,
    invalid_absence_minutes   integer,
    other_attendance_minutes  integer,
    reported_minutes          integer,
    run_id                    bigint,
    PRIMARY KEY (person_ref, activity_id, window_start, window_end)
);
CREATE INDEX ss12000_attendance_term ON staging.ss12000_attendance (term);

-- Deletions seen on /deletedEntities, kept so a later full load cannot resurrect them.
CREATE TABLE staging.ss12000_deleted (
    entity      text NOT NULL,
    id          uuid NOT NULL,
    seen_at     timestamptz NOT NULL DEFAULT now(),
    run_id      bigint,
    PRIMARY KEY (entity, id)
);
