-- Secondary suppression (DESIGN 4 and 5), one implementation for every suppressed mart.
--
-- core.suppress_secondary(min_n) works on two session-local tables its caller fills:
--   pg_temp.supp_cell    (cell_id integer, n bigint, suppressed boolean)   the cells, primaries already set
--   pg_temp.supp_sibling (cell_id integer, total_id integer, d integer)    member cell -> its total along
--                                                                          dimension d ('ALL' in d)
-- A sibling set is the cells that differ in dimension d only, with their total. When the total is shown,
-- exactly one small hidden part could be recovered from the total and the others, so one more cell is
-- suppressed: the shown sibling with the fewest pupils (then the lowest cell id), or else the total. The
-- hidden parts of a set are its suppressed siblings and its remainder (pupils the total counts but no
-- sibling does: total - sum(siblings) when positive). A set is broken when it has exactly one hidden part
-- that is small: one suppressed sibling and no remainder, or no suppressed sibling and a remainder of
-- 1 .. min_n - 1. A hidden total is broken too when every part of its set is shown and they add up to it
-- exactly (no remainder): it could be read off as their sum. Suppressing a cell can break another set, so
-- this repeats until nothing changes (it only adds suppressions, so it ends). Returns the number of cells
-- it suppressed.
CREATE FUNCTION core.suppress_secondary(min_n integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    changed integer;
    total   integer := 0;
BEGIN
    LOOP
        WITH broken AS (
            SELECT s.total_id, s.d
            FROM pg_temp.supp_sibling s
            JOIN pg_temp.supp_cell c ON c.cell_id = s.cell_id
            JOIN pg_temp.supp_cell t ON t.cell_id = s.total_id
            GROUP BY s.total_id, s.d
            HAVING (NOT bool_or(t.suppressed) AND (
                       (count(*) FILTER (WHERE c.suppressed) = 1 AND max(t.n) <= sum(c.n))
                    OR (count(*) FILTER (WHERE c.suppressed) = 0 AND max(t.n) - sum(c.n) BETWEEN 1 AND min_n - 1)))
                OR (bool_or(t.suppressed) AND count(*) FILTER (WHERE c.suppressed) = 0 AND max(t.n) = sum(c.n))
        ),
        pick AS (
            SELECT DISTINCT ON (b.total_id, b.d) coalesce(c.cell_id, b.total_id) AS cell_id
            FROM broken b
            LEFT JOIN (pg_temp.supp_sibling s JOIN pg_temp.supp_cell c ON c.cell_id = s.cell_id AND NOT c.suppressed)
                   ON s.total_id = b.total_id AND s.d = b.d
            ORDER BY b.total_id, b.d, c.n NULLS LAST, c.cell_id
        )
        UPDATE pg_temp.supp_cell g SET suppressed = true
          FROM (SELECT DISTINCT cell_id FROM pick) p
         WHERE g.cell_id = p.cell_id AND NOT g.suppressed;
        GET DIAGNOSTICS changed = ROW_COUNT;
        total := total + changed;
        EXIT WHEN changed = 0;
    END LOOP;
    RETURN total;
END $$;
