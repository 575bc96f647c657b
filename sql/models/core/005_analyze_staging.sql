-- Fresh statistics on the staging tables the build reads: a load may just have replaced most of their
-- rows, and the plans below (hash joins and aggregates over ~1.4 M grades) depend on the row counts.
-- Inside the build's transaction; a user that does not own a table gets a warning, not an error.
ANALYZE staging.ss12000_organisation, staging.ss12000_person, staging.ss12000_enrolment,
        staging.ss12000_syllabus, staging.ss12000_grade, staging.ss12000_attendance,
        staging.ss12000_deleted, staging.enrollment;
