-- Suppression of group cells (DESIGN 4 and 5).
--
-- Primary: a participants cell with fewer than suppression_min_n pupils is suppressed.
-- Secondary: core.suppress_secondary (sql/migrations/011) over the "sibling sets": the rows that differ in
-- one dimension only (the dimension taking each of its values) together with their 'ALL' row (the total).
-- The remainder of a set (pupils a total counts but none of its siblings shows: a school year unknown or
-- outside the mart's years counts under 'ALL' only; in a comparison, pupils at a pair that no participant
-- of that sex attends) is a hidden part too. Dimensions where a pupil can sit in two siblings (programme,
-- and district under programme 'ALL') have sums at or above their total, hence no remainder.
--
-- Comparison cells, after the participants are settled: a comparison cell is suppressed when it has fewer
-- than suppression_min_n pupils itself, or when its participants cell is suppressed (a comparison is only
-- read beside its participants, and would otherwise hint at which schools a hidden group attends); then
-- the same secondary suppression runs among the comparison cells.
DROP TABLE IF EXISTS pg_temp.supp_sibling;
DROP TABLE IF EXISTS pg_temp.supp_cell;

CREATE TEMP TABLE supp_sibling ON COMMIT DROP AS      -- member cell -> (total cell, varying dimension)
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

CREATE INDEX ON supp_sibling (total_id, d);
ANALYZE supp_sibling;

-- The cells of one population at a time, as core.suppress_secondary reads them.
CREATE TEMP TABLE supp_cell (
    cell_id     integer PRIMARY KEY,
    n           bigint  NOT NULL,
    suppressed  boolean NOT NULL
) ON COMMIT DROP;

DO $$
DECLARE
    min_n   integer := core.param('suppression_min_n')::integer;
    pop     text;
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
        TRUNCATE supp_cell;
        INSERT INTO supp_cell SELECT cell_id, n, suppressed FROM group_cell WHERE population = pop;
        PERFORM core.suppress_secondary(min_n);
        UPDATE group_cell g SET suppressed = true
          FROM supp_cell s
         WHERE s.cell_id = g.cell_id AND s.suppressed AND NOT g.suppressed;
    END LOOP;
END $$;
