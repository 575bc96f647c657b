-- "Kvalitet och bortfall": records set aside, by source and reason code (never a record itself).
SELECT source, reason_code, count(*) AS n
FROM audit.quarantine
GROUP BY source, reason_code
ORDER BY source, count(*) DESC, reason_code
