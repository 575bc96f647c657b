-- "Kvalitet och bortfall": the latest validation of each quality suite, checks passed and failed by severity.
WITH latest AS (
    SELECT DISTINCT ON (suite) suite, validation_id, checked_at
    FROM audit.dq_result
    ORDER BY suite, checked_at DESC
)
SELECT r.severity,
       count(*) FILTER (WHERE r.success)     AS passed,
       count(*) FILTER (WHERE NOT r.success) AS failed,
       max(l.checked_at)                     AS checked_at
FROM audit.dq_result r
JOIN latest l ON l.suite = r.suite AND l.validation_id = r.validation_id
GROUP BY r.severity
ORDER BY r.severity
