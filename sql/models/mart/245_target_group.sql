-- mart_candidate.target_group (DESIGN 5): is the programme reaching its target group?
--
-- The target group is PPSS's criteria: pupils in school years target_school_year_min..max (6–9) with an
-- absence rate of at least target_absence_min AND a share of subjects passed of at most
-- target_share_passed_max (both settings, compared exactly on the minutes and subject counts, as the
-- absence bands are). A pupil with either figure unknown (no attendance offered, no grade) is counted in
-- n_pupils but not in the target group: nothing says they meet the criteria.
-- Enrolled = a participant that term in any programme (core.fact_participation): the question is whether
-- pupils who meet the criteria are reached by the cooperation at all.
-- Every pupil found in SS 12000 counts, protected pupils included (counts only, never which pupils).
-- absence_status 'not_extracted': a pupil of the cell had an attendance window that was never read
-- (core.pupil_term_measure.absence_status), so nobody can say whether they meet the criteria: n_target,
-- n_target_enrolled, coverage_share and n_enrolled_not_target are NULL (n_pupils stays), never a count
-- that silently leaves such pupils out.
-- Cells: (school unit, school year), each either its value or 'ALL'; a pupil without a school unit code
-- counts under school_unit_code 'ALL' only. Suppression: the rules of group_term on n_pupils (primary below
-- suppression_min_n, then core.suppress_secondary over the units of a year and the years of a unit).
DROP TABLE IF EXISTS pg_temp.target_cell;
DROP TABLE IF EXISTS pg_temp.supp_sibling;
DROP TABLE IF EXISTS pg_temp.supp_cell;

CREATE TEMP TABLE target_cell ON COMMIT DROP AS
WITH params AS MATERIALIZED (      -- once, not once per row (core.param runs a query)
    SELECT core.param('target_school_year_min')::integer  AS year_min,
           core.param('target_school_year_max')::integer  AS year_max,
           core.param('target_absence_min')::numeric      AS absence_min,
           core.param('target_share_passed_max')::numeric AS share_max
),
pupil AS (
    SELECT m.term,
           nullif(btrim(m.school_unit_code), '') AS school_unit_code,
           m.school_year::text AS school_year,
           coalesce(m.absence_rate IS NOT NULL AND m.subjects_graded > 0
                    AND (coalesce(m.valid_absence_minutes, 0) + coalesce(m.invalid_absence_minutes, 0))::numeric
                        / m.offered_minutes >= pa.absence_min
                    AND m.subjects_passed::numeric / m.subjects_graded <= pa.share_max, false) AS target,
           EXISTS (SELECT 1 FROM core.fact_participation fp
                   WHERE fp.student_key = m.student_key AND fp.term = m.term) AS enrolled,
           m.absence_status = 'not_extracted' AS unread
    FROM core.pupil_term_measure m
    JOIN core.build_term b ON b.term = m.term
    JOIN core.dim_pupil dp ON dp.student_key = m.student_key
    CROSS JOIN params pa
    WHERE m.school_year BETWEEN pa.year_min AND pa.year_max
)
SELECT (row_number() OVER (ORDER BY c.term, c.school_unit_code, c.school_year))::integer AS cell_id, c.*,
       false AS suppressed
FROM (
    SELECT p.term, u.school_unit_code, y.school_year,
           count(*)                                         AS n_pupils,
           count(*) FILTER (WHERE p.target)                 AS n_target,
           count(*) FILTER (WHERE p.target AND p.enrolled)  AS n_target_enrolled,
           count(*) FILTER (WHERE p.enrolled AND NOT p.target) AS n_enrolled_not_target,
           count(*) FILTER (WHERE p.unread)                 AS unread_n
    FROM pupil p
    CROSS JOIN LATERAL (VALUES (p.school_unit_code), ('ALL')) u (school_unit_code)
    CROSS JOIN LATERAL (VALUES (p.school_year), ('ALL')) y (school_year)
    WHERE u.school_unit_code IS NOT NULL
    GROUP BY p.term, u.school_unit_code, y.school_year
) c;

ALTER TABLE target_cell ADD PRIMARY KEY (cell_id);

CREATE TEMP TABLE supp_sibling ON COMMIT DROP AS      -- member cell -> (total cell, varying dimension)
SELECT c.cell_id, t.cell_id AS total_id, dim.d
FROM target_cell c
CROSS JOIN (VALUES (1), (2)) dim (d)                  -- school_unit_code, school_year
JOIN target_cell t
  ON t.term = c.term
 AND t.school_unit_code = CASE WHEN dim.d = 1 THEN 'ALL' ELSE c.school_unit_code END
 AND t.school_year      = CASE WHEN dim.d = 2 THEN 'ALL' ELSE c.school_year END
WHERE CASE dim.d WHEN 1 THEN c.school_unit_code ELSE c.school_year END <> 'ALL';

CREATE INDEX ON supp_sibling (total_id, d);

CREATE TEMP TABLE supp_cell ON COMMIT DROP AS
SELECT cell_id, n_pupils AS n, n_pupils < core.param('suppression_min_n')::integer AS suppressed
FROM target_cell;

ALTER TABLE supp_cell ADD PRIMARY KEY (cell_id);
SELECT core.suppress_secondary(core.param('suppression_min_n')::integer);

TRUNCATE mart_candidate.target_group;

INSERT INTO mart_candidate.target_group (term, school_unit_code, school_year, n_pupils, n_target,
                                         n_target_enrolled, coverage_share, n_enrolled_not_target, suppressed,
                                         absence_status)
SELECT c.term, c.school_unit_code, c.school_year,
       c.n_pupils,
       CASE WHEN c.unread_n = 0 THEN c.n_target END,
       CASE WHEN c.unread_n = 0 THEN c.n_target_enrolled END,
       CASE WHEN c.unread_n = 0 THEN c.n_target_enrolled::double precision / nullif(c.n_target, 0) END,
       CASE WHEN c.unread_n = 0 THEN c.n_enrolled_not_target END,
       false,
       CASE WHEN c.unread_n = 0 THEN 'reported' ELSE 'not_extracted' END
FROM target_cell c JOIN supp_cell s USING (cell_id)
WHERE NOT s.suppressed
UNION ALL
SELECT c.term, c.school_unit_code, c.school_year, NULL, NULL, NULL, NULL, NULL, true,
       CASE WHEN c.unread_n = 0 THEN 'reported' ELSE 'not_extracted' END
FROM target_cell c JOIN supp_cell s USING (cell_id)
WHERE s.suppressed;

ANALYZE mart_candidate.target_group;
