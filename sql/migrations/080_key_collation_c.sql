-- Pupil keys compare byte by byte (issue 15): every student_key and person_ref column takes COLLATE "C".
-- The keys are lowercase hex digests (HMAC-SHA256), so the C order is the order they had under the
-- database's default collation (C.UTF-8 or any other sorts 0-9a-f the same way): no result changes. What
-- changes is the cost: PostgreSQL compares "C" text with memcmp and abbreviated keys, other collations
-- with strcoll. At city scale the build sorts and indexes ~1.4 M grades by student_key and the load
-- indexes ~3 M rows by person_ref (profile in docs/profiles/).
-- One DO block over the catalogue, so every such column of the data schemas is covered, today's and the
-- copies made LIKE them (mart_candidate); altering the type rebuilds the column's indexes.
DO $$
DECLARE
    col record;
BEGIN
    FOR col IN
        SELECT c.table_schema, c.table_name, c.column_name
          FROM information_schema.columns c
          JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema IN ('staging', 'core', 'mart', 'mart_candidate', 'audit')
           AND t.table_type = 'BASE TABLE'
           AND c.column_name IN ('student_key', 'person_ref')
           AND c.data_type = 'text'
           AND coalesce(c.collation_name, '') <> 'C'
         ORDER BY 1, 2, 3
    LOOP
        EXECUTE format('ALTER TABLE %I.%I ALTER COLUMN %I TYPE text COLLATE "C"',
                       col.table_schema, col.table_name, col.column_name);
    END LOOP;
END
$$;
