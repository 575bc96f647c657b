-- Staging rows carry the school system (SS 12000 source, DESIGN 3.1.1) they were read from, so that a
-- source's full refresh or term window replaces its own rows only. Rows loaded before are the one source
-- 'ss12000' (the extractor's default).
ALTER TABLE staging.ss12000_organisation ADD COLUMN source text NOT NULL DEFAULT 'ss12000';
ALTER TABLE staging.ss12000_syllabus     ADD COLUMN source text NOT NULL DEFAULT 'ss12000';
ALTER TABLE staging.ss12000_person       ADD COLUMN source text NOT NULL DEFAULT 'ss12000';
ALTER TABLE staging.ss12000_enrolment    ADD COLUMN source text NOT NULL DEFAULT 'ss12000';
ALTER TABLE staging.ss12000_grade        ADD COLUMN source text NOT NULL DEFAULT 'ss12000';
ALTER TABLE staging.ss12000_attendance   ADD COLUMN source text NOT NULL DEFAULT 'ss12000';
