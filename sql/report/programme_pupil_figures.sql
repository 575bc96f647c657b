-- Report figures that mart.group_term does not carry, per term, population and programme (and 'ALL'), and
-- per school year as well (school_year NULL: all years, the group_term row with school_year 'ALL'):
-- schools, valid and invalid absence apart, and improved / unchanged / worsened share passed among the
-- pupils who could improve (share passed below 1 the term before). Counts and means only.
--
-- The populations follow DESIGN 5 exactly as sql/models/mart/200-220 build them for the row of
-- mart.group_term with district, sex and school_year 'ALL': participants are the pupils of
-- core.fact_participation found in the education data (core.dim_pupil); the comparison pupils are the
-- pupils in no programme that term who attend one of the (school unit, school year) pairs the
-- participants attend. tests/test_report_pdf.py checks that n equals group_term's n_students.
-- The report shows a figure only where that group_term row is not suppressed and the base is large enough.
-- Parameter: terms, the terms to compute (a psycopg named parameter).
WITH term AS (
    SELECT t.term, t.start_date, t.end_date, t.prev_term FROM core.dim_term t WHERE t.term = ANY(%(terms)s)
),
pupil AS (      -- every pupil of those terms, with this and the previous term's figures
    SELECT m.term, m.student_key, m.school_unit_id, m.school_unit_code, m.school_year,
           m.offered_minutes, m.valid_absence_minutes, m.invalid_absence_rate,
           m.share_passed, pm.share_passed AS prev_share_passed,
           EXISTS (SELECT 1 FROM core.fact_enrollment e
                   WHERE e.student_key = m.student_key
                     AND e.start_date <= t.end_date AND e.effective_end_date >= t.start_date) AS in_programme
    FROM core.pupil_term_measure m
    JOIN term t ON t.term = m.term
    JOIN core.dim_pupil dp ON dp.student_key = m.student_key
    LEFT JOIN core.pupil_term_measure pm ON pm.student_key = m.student_key AND pm.term = t.prev_term
),
participant AS (
    SELECT DISTINCT fp.term, g.programme, fp.student_key
    FROM core.fact_participation fp
    JOIN term t ON t.term = fp.term
    JOIN core.dim_pupil dp ON dp.student_key = fp.student_key
    CROSS JOIN LATERAL (VALUES (fp.programme), ('ALL')) g (programme)
),
pair AS (       -- the (school unit, school year) pairs each programme's participants attend
    SELECT DISTINCT pa.term, pa.programme, p.school_unit_id, p.school_year
    FROM participant pa
    JOIN pupil p ON p.term = pa.term AND p.student_key = pa.student_key
    WHERE p.school_unit_id IS NOT NULL AND p.school_year IS NOT NULL
),
member AS (
    SELECT 'participants' AS population, pa.term, pa.programme, pa.student_key FROM participant pa
    UNION ALL
    SELECT 'comparison', pr.term, pr.programme, p.student_key
    FROM pair pr
    JOIN pupil p ON p.term = pr.term AND p.school_unit_id = pr.school_unit_id AND p.school_year = pr.school_year
    WHERE NOT p.in_programme
)
SELECT mb.term, mb.population, mb.programme,
       CASE WHEN grouping(p.school_year) = 0 THEN p.school_year::text END      AS school_year,
       count(*)                                                              AS n,
       count(DISTINCT p.school_unit_code)                                    AS n_schools,
       avg(p.valid_absence_minutes::double precision / nullif(p.offered_minutes, 0))
                                                                             AS valid_absence_rate_mean,
       avg(p.invalid_absence_rate)                                           AS invalid_absence_rate_mean,
       count(*) FILTER (WHERE p.prev_share_passed < 1 AND p.share_passed IS NOT NULL) AS could_improve,
       count(*) FILTER (WHERE p.prev_share_passed < 1 AND p.share_passed > p.prev_share_passed) AS improved,
       count(*) FILTER (WHERE p.prev_share_passed < 1 AND p.share_passed = p.prev_share_passed) AS unchanged,
       count(*) FILTER (WHERE p.prev_share_passed < 1 AND p.share_passed < p.prev_share_passed) AS worsened
FROM member mb
LEFT JOIN pupil p ON p.term = mb.term AND p.student_key = mb.student_key
GROUP BY GROUPING SETS ((mb.term, mb.population, mb.programme),
                        (mb.term, mb.population, mb.programme, p.school_year))
HAVING grouping(p.school_year) = 1 OR p.school_year IS NOT NULL
