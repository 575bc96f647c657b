-- The cells of mart.group_term before suppression (session-local working tables).
--
-- Participants: each participation (protected pupils included) is exploded into the 16 cells it belongs
-- to (each of programme, district, sex, school_year either its value or 'ALL'); the cells are then the
-- distinct (cell, pupil) pairs, so a pupil in two programmes counts once under 'ALL'. A school year
-- outside mart_school_year_min..mart_school_year_max, or unknown, counts under school_year 'ALL' only.
--
-- Comparison (one per participants cell, same dimension values): the pupils in no programme that term
-- whose (school unit, school year) is one of the pairs the cell's participants attend, of the cell's sex
-- unless it is 'ALL' (the school year restriction follows from the pairs). A pupil has one (unit, year)
-- per term, so a comparison cell is a disjoint union of (unit, year, sex) blocks: it is added up from
-- per-block sums instead of exploding the comparison pupils themselves (cheap at city scale).
--
-- unread_n: pupils whose attendance window was never read (absence_status 'not_extracted'); a cell with
-- any has no absence figure in group_term (240).
-- Measures are kept as sums and counts here; 240_group_term.sql turns them into means and shares.
DROP TABLE IF EXISTS pg_temp.cell_member;
DROP TABLE IF EXISTS pg_temp.group_cell;
DROP TABLE IF EXISTS pg_temp.participant_cell;
DROP TABLE IF EXISTS pg_temp.comparison_cell;

CREATE TEMP TABLE cell_member ON COMMIT DROP AS
WITH params AS MATERIALIZED (      -- once, not once per row (core.param runs a query)
    SELECT core.param('mart_school_year_min')::integer AS year_min,
           core.param('mart_school_year_max')::integer AS year_max
),
member AS (
    SELECT fp.term, fp.student_key, fp.programme, fp.district, mp.sex,
           CASE WHEN mp.school_year BETWEEN pa.year_min AND pa.year_max THEN mp.school_year::text END AS school_year
    FROM core.fact_participation fp
    JOIN mart_pupil mp ON mp.term = fp.term AND mp.student_key = fp.student_key
    CROSS JOIN params pa
)
SELECT DISTINCT m.term, p.programme, d.district, s.sex, y.school_year, m.student_key
FROM member m
CROSS JOIN LATERAL (VALUES (m.programme), ('ALL')) p (programme)
CROSS JOIN LATERAL (VALUES (m.district), ('ALL')) d (district)
CROSS JOIN LATERAL (VALUES (m.sex), ('ALL')) s (sex)
CROSS JOIN LATERAL (VALUES (m.school_year), ('ALL')) y (school_year)
WHERE y.school_year IS NOT NULL;

ANALYZE cell_member;

CREATE TEMP TABLE group_cell (
    cell_id              integer PRIMARY KEY,
    term                 text    NOT NULL,
    population           text    NOT NULL,
    programme            text    NOT NULL,
    district             text    NOT NULL,
    sex                  text    NOT NULL,
    school_year          text    NOT NULL,
    n                    bigint  NOT NULL,
    share_sum            numeric,             -- numeric: exact, so the means do not depend on row order
    share_n              bigint  NOT NULL,
    improved_known       bigint  NOT NULL,
    improved             bigint  NOT NULL,
    merit_sum            numeric,
    merit_n              bigint  NOT NULL,
    final_year_graded    bigint  NOT NULL,
    final_year_eligible  bigint  NOT NULL,
    absence_sum          numeric,
    absence_n            bigint  NOT NULL,
    high_n               bigint  NOT NULL,
    very_high_n          bigint  NOT NULL,
    unread_n             bigint  NOT NULL,
    suppressed           boolean NOT NULL DEFAULT false,
    UNIQUE (term, population, programme, district, sex, school_year)
) ON COMMIT DROP;

-- Participants cells: their pupils' sums and counts.
CREATE TEMP TABLE participant_cell ON COMMIT DROP AS
SELECT cm.term, cm.programme, cm.district, cm.sex, cm.school_year,
       count(*)                                          AS n,
       sum(mp.share_passed::numeric)                     AS share_sum,
       count(mp.share_passed)                            AS share_n,
       count(*) FILTER (WHERE mp.improved_known)         AS improved_known,
       count(*) FILTER (WHERE mp.improved)               AS improved,
       sum(mp.merit_value)                               AS merit_sum,
       count(mp.merit_value)                             AS merit_n,
       count(*) FILTER (WHERE mp.final_year_graded)      AS final_year_graded,
       count(*) FILTER (WHERE mp.final_year_eligible)    AS final_year_eligible,
       sum(mp.absence_rate::numeric)                     AS absence_sum,
       count(mp.absence_rate)                            AS absence_n,
       count(*) FILTER (WHERE mp.high_absence)           AS high_n,
       count(*) FILTER (WHERE mp.very_high_absence)      AS very_high_n,
       count(*) FILTER (WHERE mp.absence_status = 'not_extracted') AS unread_n
FROM cell_member cm
JOIN mart_pupil mp ON mp.term = cm.term AND mp.student_key = cm.student_key
GROUP BY cm.term, cm.programme, cm.district, cm.sex, cm.school_year;

ANALYZE participant_cell;

-- Comparison cells: sums over the (unit, year, sex) blocks of each cell's pairs.
CREATE TEMP TABLE comparison_cell ON COMMIT DROP AS
WITH block AS (      -- comparison pupils per (term, school unit, school year, sex)
    SELECT mp.term, mp.school_unit_id, mp.school_year, mp.sex,
           count(*)                                          AS n,
           sum(mp.share_passed::numeric)                     AS share_sum,
           count(mp.share_passed)                            AS share_n,
           count(*) FILTER (WHERE mp.improved_known)         AS improved_known,
           count(*) FILTER (WHERE mp.improved)               AS improved,
           sum(mp.merit_value)                               AS merit_sum,
           count(mp.merit_value)                             AS merit_n,
           count(*) FILTER (WHERE mp.final_year_graded)      AS final_year_graded,
           count(*) FILTER (WHERE mp.final_year_eligible)    AS final_year_eligible,
           sum(mp.absence_rate::numeric)                     AS absence_sum,
           count(mp.absence_rate)                            AS absence_n,
           count(*) FILTER (WHERE mp.high_absence)           AS high_n,
           count(*) FILTER (WHERE mp.very_high_absence)      AS very_high_n,
           count(*) FILTER (WHERE mp.absence_status = 'not_extracted') AS unread_n
    FROM mart_pupil mp
    WHERE NOT mp.in_programme AND mp.school_unit_id IS NOT NULL AND mp.school_year IS NOT NULL
    GROUP BY mp.term, mp.school_unit_id, mp.school_year, mp.sex
),
cell_pair AS (  -- the (school unit, school year) pairs each participants cell attends
    SELECT DISTINCT cm.term, cm.programme, cm.district, cm.sex, cm.school_year,
           mp.school_unit_id, mp.school_year AS pupil_school_year
    FROM cell_member cm
    JOIN mart_pupil mp ON mp.term = cm.term AND mp.student_key = cm.student_key
    WHERE mp.school_unit_id IS NOT NULL AND mp.school_year IS NOT NULL
),
comparison AS (
    SELECT cp.term, cp.programme, cp.district, cp.sex, cp.school_year,
           sum(b.n) AS n, sum(b.share_sum) AS share_sum, sum(b.share_n) AS share_n,
           sum(b.improved_known) AS improved_known, sum(b.improved) AS improved,
           sum(b.merit_sum) AS merit_sum, sum(b.merit_n) AS merit_n,
           sum(b.final_year_graded) AS final_year_graded, sum(b.final_year_eligible) AS final_year_eligible,
           sum(b.absence_sum) AS absence_sum, sum(b.absence_n) AS absence_n,
           sum(b.high_n) AS high_n, sum(b.very_high_n) AS very_high_n, sum(b.unread_n) AS unread_n
    FROM cell_pair cp
    JOIN block b ON b.term = cp.term AND b.school_unit_id = cp.school_unit_id
                AND b.school_year = cp.pupil_school_year AND (cp.sex = 'ALL' OR b.sex = cp.sex)
    GROUP BY cp.term, cp.programme, cp.district, cp.sex, cp.school_year
)
SELECT * FROM comparison;

ANALYZE comparison_cell;

WITH cells AS (
    SELECT 'participants' AS population, p.* FROM participant_cell p
    UNION ALL
    SELECT 'comparison', p.term, p.programme, p.district, p.sex, p.school_year,
           coalesce(c.n, 0), c.share_sum, coalesce(c.share_n, 0),
           coalesce(c.improved_known, 0), coalesce(c.improved, 0),
           c.merit_sum, coalesce(c.merit_n, 0),
           coalesce(c.final_year_graded, 0), coalesce(c.final_year_eligible, 0),
           c.absence_sum, coalesce(c.absence_n, 0),
           coalesce(c.high_n, 0), coalesce(c.very_high_n, 0), coalesce(c.unread_n, 0)
    FROM participant_cell p
    LEFT JOIN comparison_cell c USING (term, programme, district, sex, school_year)
)
INSERT INTO group_cell (cell_id, term, population, programme, district, sex, school_year, n,
                        share_sum, share_n, improved_known, improved, merit_sum, merit_n,
                        final_year_graded, final_year_eligible, absence_sum, absence_n, high_n, very_high_n,
                        unread_n)
SELECT row_number() OVER (ORDER BY term, population DESC, programme, district, sex, school_year),
       term, population, programme, district, sex, school_year, n,
       share_sum, share_n, improved_known, improved, merit_sum, merit_n,
       final_year_graded, final_year_eligible, absence_sum, absence_n, high_n, very_high_n, unread_n
FROM cells;

ANALYZE group_cell;
