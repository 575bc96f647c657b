-- Suppression of group cells (DESIGN 4 and 5).
--
-- Primary: a participants cell with fewer than suppression_min_n pupils is suppressed.
-- Secondary: a "sibling set" is the rows that differ in one dimension only (the dimension taking each of
-- its values) together with their 'ALL' row (the total). When the total is shown, exactly one suppressed
-- sibling could be recovered from the total and the others, so one more is suppressed: the shown sibling
-- with the fewest pupils (then the lowest cell id); if there is none, the total itself. Suppressing a cell
-- can break another set, so this repeats until nothing changes (it only ever adds suppressions, so it ends).
-- The remainder: pupils a total counts but none of its siblings shows (a school year unknown or outside the
-- mart's years counts under 'ALL' only; in a comparison, pupils at a pair that no participant of that sex
-- attends) number total - sum(siblings) when that is positive. The remainder is a hidden part of the set
-- too, so a set is broken when it has exactly one hidden part that is small:
--   one suppressed sibling and no remainder, or
--   no suppressed sibling and a remainder of 1 .. suppression_min_n - 1 pupils.
-- (A suppressed sibling beside a remainder is mixed with it, and a remainder of suppression_min_n or more
-- may be read off like any shown cell.) Dimensions where a pupil can sit in two siblings (programme, and
-- district under programme 'ALL') have sums at or above their total, hence no remainder.
--
-- Comparison cells, after the participants are settled: a comparison cell is suppressed when it has fewer
-- than suppression_min_n pupils itself, or when its participants cell is suppressed (a comparison is only
-- read beside its participants, and would otherwise hint at which schools a hidden group attends); then
-- the same secondary suppression runs among the comparison cells.
DROP TABLE IF EXISTS pg_temp.cell_sibling;

CREATE TEMP TABLE cell_sibling ON COMMIT DROP AS      -- member cell -> (total cell, varying dimension)
SELECT c.cell_id, t.cell_id AS total_id, dim.d
FROM group_cell c
CROSS JOIN (VALUES (1), (2), (3), (4)) dim (d)        -- programme, district, sex, school_year
JOIN group_cell t
  ON t.term = c.term AND t.population = c.population
 AND t.programme   = CASE WHEN dim.d = 1 THEN 'ALL' ELSE c.programme END
 AND t.district    = CASE WHEN dim.d = 2 THEN 'ALL' ELSE c.district END
 AND t.sex         = CASE WHEN dim.d = 3 THEN 'ALL' ELSE c.sex END
 AND t.school_year = CASE WHEN dim.d = 4 THEN 'ALL' ELSE c.school_year END
WHERE CASE dim.d WHEN 1 THEN c.programme WHEN 2 THEN c.district WHEN 3 THEN c.sex ELSE c.school_year END <> 'ALL';

CREATE INDEX ON cell_sibling (total_id, d);
ANALYZE cell_sibling;

DO $$
DECLARE
    min_n   integer := core.param('suppression_min_n')::integer;
    pop     text;
    changed integer;
BEGIN
    UPDATE group_cell SET suppressed = (n < min_n) WHERE population = 'participants';
    FOREACH pop IN ARRAY ARRAY['participants', 'comparison'] LOOP
        IF pop = 'comparison' THEN
            UPDATE group_cell c
               SET suppressed = (c.n < min_n OR p.suppressed)
              FROM group_cell p
             WHERE c.population = 'comparison' AND p.population = 'participants'
               AND p.term = c.term AND p.programme = c.programme AND p.district = c.district
               AND p.sex = c.sex AND p.school_year = c.school_year;
        END IF;
        LOOP
            WITH broken AS (      -- shown total, exactly one small hidden part
                SELECT s.total_id, s.d
                FROM cell_sibling s
                JOIN group_cell c ON c.cell_id = s.cell_id
                JOIN group_cell t ON t.cell_id = s.total_id
                WHERE t.population = pop AND NOT t.suppressed
                GROUP BY s.total_id, s.d
                HAVING (count(*) FILTER (WHERE c.suppressed) = 1 AND max(t.n) <= sum(c.n))
                    OR (count(*) FILTER (WHERE c.suppressed) = 0 AND max(t.n) - sum(c.n) BETWEEN 1 AND min_n - 1)
            ),
            pick AS (
                SELECT DISTINCT ON (b.total_id, b.d) coalesce(c.cell_id, b.total_id) AS cell_id
                FROM broken b
                LEFT JOIN (cell_sibling s JOIN group_cell c ON c.cell_id = s.cell_id AND NOT c.suppressed)
                       ON s.total_id = b.total_id AND s.d = b.d
                ORDER BY b.total_id, b.d, c.n NULLS LAST, c.cell_id
            )
            UPDATE group_cell g SET suppressed = true
              FROM (SELECT DISTINCT cell_id FROM pick) p
             WHERE g.cell_id = p.cell_id AND NOT g.suppressed;
            GET DIAGNOSTICS changed = ROW_COUNT;
            EXIT WHEN changed = 0;
        END LOOP;
    END LOOP;
END $$;
