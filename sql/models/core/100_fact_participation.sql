-- core.fact_participation: a pupil participates in a programme in a term when one of their enrollment
-- periods overlaps the term by at least participation_min_overlap_days days (a setting). A pupil in one
-- programme twice in the same term is one row; its district is that of the period with the most days in
-- the term (then the latest start). Periods end at their effective_end_date (see 090_fact_enrollment.sql).
TRUNCATE core.fact_participation;

WITH overlap AS (
    SELECT e.student_key, e.programme, t.term, e.district, e.start_date,
           least(e.effective_end_date, t.end_date)
             - greatest(e.start_date, t.start_date) + 1 AS overlap_days
    FROM core.fact_enrollment e
    JOIN core.dim_term t ON e.start_date <= t.end_date AND e.effective_end_date >= t.start_date
)
INSERT INTO core.fact_participation (student_key, programme, term, district, overlap_days)
SELECT DISTINCT ON (student_key, programme, term)
       student_key, programme, term, district, overlap_days
FROM overlap
WHERE overlap_days >= (SELECT core.param('participation_min_overlap_days')::integer)
ORDER BY student_key, programme, term, overlap_days DESC, start_date DESC;

ANALYZE core.fact_participation;
