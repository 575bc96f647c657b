-- "Kvalitet och bortfall" and the method section: per source (school system or list intake) the latest
-- successful load, how many records it has read in all and set aside (quarantined) in all, and whether a
-- school system is failing now (the latest finished load of one of its entities failed or was rejected:
-- its figures are as of last_success). Counts and dates only.
WITH latest AS (
    SELECT DISTINCT ON (source, entity) source, entity, status
    FROM audit.load_run
    WHERE source NOT IN ('warehouse', 'quality', 'enrollment') AND status <> 'running'
    ORDER BY source, entity, started_at DESC, run_id DESC
)
SELECT r.source,
       max(r.finished_at) FILTER (WHERE r.status = 'success') AS last_success,
       count(*) FILTER (WHERE r.status = 'failed')             AS failed_runs,
       sum(r.rows_read)                                        AS rows_read,
       sum(r.rows_quarantined)                                 AS rows_quarantined,
       EXISTS (SELECT 1 FROM latest l WHERE l.source = r.source AND l.status IN ('failed', 'rejected'))
                                                               AS failing
FROM audit.load_run r
WHERE r.source NOT IN ('warehouse', 'quality')
GROUP BY r.source
ORDER BY r.source
