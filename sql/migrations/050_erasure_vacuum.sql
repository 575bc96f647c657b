-- Erasure down to the disk (issue 17 item 6): when the tables an erasure touched were last rewritten
-- (VACUUM FULL), so the erased pupils' rows are gone from the table files too, not only from the tables.
-- NULL: not yet; the intake vacuums right after an erasure, the maintenance DAG catches up what it missed.
ALTER TABLE audit.erasure ADD COLUMN IF NOT EXISTS vacuumed_at timestamptz;
-- The erasing transaction's id: its deleted row versions can only be removed from the files once every
-- transaction and snapshot older than it has ended (the vacuum waits for that).
ALTER TABLE audit.erasure ADD COLUMN IF NOT EXISTS erased_xid bigint;
