-- Least privilege, re-applied after each build so tables added by later migrations are covered too.
-- The roles themselves are created by migration 005. Student-level data (staging, core,
-- mart.participant_term) is for the loader and analysts only; the reader role sees nothing but the
-- suppressed aggregate mart.group_term. A role a DBA has not created is skipped, as in 005.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'skolsam_loader') THEN
        GRANT USAGE ON SCHEMA staging, core, mart, mart_candidate, audit TO skolsam_loader;
        GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE
            ON ALL TABLES IN SCHEMA staging, core, mart, mart_candidate, audit TO skolsam_loader;
        GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA audit TO skolsam_loader;
        GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA core TO skolsam_loader;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'skolsam_analyst') THEN
        GRANT USAGE ON SCHEMA mart TO skolsam_analyst;
        GRANT SELECT ON ALL TABLES IN SCHEMA mart TO skolsam_analyst;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'skolsam_reader') THEN
        REVOKE ALL ON ALL TABLES IN SCHEMA mart FROM skolsam_reader;
        GRANT USAGE ON SCHEMA mart TO skolsam_reader;
        GRANT SELECT ON mart.group_term TO skolsam_reader;
    END IF;
END $$;
