-- core.dim_term: the city's term calendar (seeded by build.py from skolsam.terms.load_calendar).
-- Rule: the previous term of VTyyyy is HT(yyyy-1), of HTyyyy is VTyyyy, whether or not it is in the calendar.
TRUNCATE core.dim_term;

INSERT INTO core.dim_term (term, semester, year, term_order, start_date, end_date, prev_term)
SELECT c.term,
       left(c.term, 2),
       substr(c.term, 3)::integer,
       substr(c.term, 3)::integer * 2 + CASE WHEN left(c.term, 2) = 'HT' THEN 1 ELSE 0 END,
       c.start_date,
       c.end_date,
       CASE WHEN left(c.term, 2) = 'VT' THEN 'HT' || (substr(c.term, 3)::integer - 1)
            ELSE 'VT' || substr(c.term, 3) END
FROM core.seed_term_calendar c;

ANALYZE core.dim_term;
