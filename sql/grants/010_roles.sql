-- Roles of DESIGN 4, created once per cluster and granted after every build (tables are recreated).
-- skolsam_loader writes; skolsam_analyst reads the marts; skolsam_reader reads mart.group_term only.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'skolsam_loader') THEN
        CREATE ROLE skolsam_loader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'skolsam_analyst') THEN
        CREATE ROLE skolsam_analyst NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'skolsam_reader') THEN
        CREATE ROLE skolsam_reader NOLOGIN;
    END IF;
END
$$;
