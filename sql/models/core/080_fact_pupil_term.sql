-- core.fact_pupil_term: where a pupil is in a term, from their SS 12000 enrolments.
-- Of the enrolments that are not cancelled and overlap the term, the one with a school year wins over
-- one without (a fritidshem enrolment has none), then the most days inside the term, then the latest
-- start, then the lowest school unit id and ordinal (determinism).
-- Förskoleklass is school year 0 (DESIGN 5) whichever way a source says it: school type FKLASS (with
-- schoolYear 0 or none, as SS 12000 leaves it optional) or school type GR with schoolYear 0.
TRUNCATE core.fact_pupil_term;

WITH overlap AS (
    SELECT p.student_key, t.term, e.school_unit_id,
           coalesce(e.school_year, CASE WHEN upper(btrim(e.school_type)) = 'FKLASS' THEN 0 END) AS school_year,
           e.school_type, e.start_date, e.ordinal,
           least(coalesce(e.end_date, 'infinity'::date), t.end_date)
             - greatest(e.start_date, t.start_date) + 1 AS overlap_days
    FROM staging.ss12000_enrolment e
    JOIN staging.ss12000_person p ON p.person_ref = e.person_ref
    JOIN core.dim_pupil dp ON dp.student_key = p.student_key
    JOIN core.dim_term t ON e.start_date <= t.end_date AND coalesce(e.end_date, 'infinity'::date) >= t.start_date
    WHERE NOT e.cancelled
)
INSERT INTO core.fact_pupil_term (student_key, term, school_unit_id, school_unit_code, school_year,
                                  school_type, overlap_days)
SELECT DISTINCT ON (o.student_key, o.term)
       o.student_key, o.term, o.school_unit_id, u.school_unit_code, o.school_year, o.school_type, o.overlap_days
FROM overlap o
LEFT JOIN core.dim_school_unit u ON u.school_unit_id = o.school_unit_id
ORDER BY o.student_key, o.term, (o.school_year IS NOT NULL) DESC, o.overlap_days DESC, o.start_date DESC,
         o.school_unit_id, o.ordinal;

ANALYZE core.fact_pupil_term;
