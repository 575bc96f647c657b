-- "Kvalitet och bortfall": per source (school system or list intake) the latest successful load, how many
-- records it has read in all and set aside (quarantined) in all. Counts and dates only.
SELECT source,
       max(finished_at) FILTER (WHERE status = 'success') AS last_success,
       count(*) FILTER (WHERE status = 'failed')           AS failed_runs,
       sum(rows_read)                                      AS rows_read,
       sum(rows_quarantined)                               AS rows_quarantined
FROM audit.load_run
WHERE source NOT IN ('warehouse', 'quality')
GROUP BY source
ORDER BY source
