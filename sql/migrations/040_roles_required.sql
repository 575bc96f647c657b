-- The three group roles of DESIGN 4 are required, not optional. Migration 005 created them when it could
-- and only warned when it could not (a warning psycopg drops), after which the grants skipped the missing
-- roles and the one login left was the owner, who reads everything. Applied migrations never change (the
-- checksum guard), so this one closes the hole: it creates a missing role if this user may, and otherwise
-- FAILS the migration, naming the role and the fix (deploy/postgres-init.sh, or a DBA's CREATE ROLE).
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
                    RAISE EXCEPTION 'role % is missing and % may not create roles', r, current_user
                        USING HINT = 'create the roles first (deploy/postgres-init.sh, or as a DBA: CREATE ROLE '
                                     || r || ' NOLOGIN), then run the migrations again';
            END;
        END IF;
    END LOOP;
END $$;

-- The privileges of 005 again, now that the roles exist for certain (sql/grants re-applies them after
-- every build, for tables added later).
GRANT USAGE ON SCHEMA staging, core, mart, mart_candidate, audit TO skolsam_loader;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE
    ON ALL TABLES IN SCHEMA staging, core, mart, mart_candidate, audit TO skolsam_loader;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA audit TO skolsam_loader;
GRANT USAGE ON SCHEMA mart TO skolsam_analyst;
GRANT SELECT ON mart.participant_term, mart.group_term TO skolsam_analyst;
GRANT USAGE ON SCHEMA mart TO skolsam_reader;
GRANT SELECT ON mart.group_term TO skolsam_reader;
