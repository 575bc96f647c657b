-- core.fact_grade loses its index on term (issue 15). Nothing reads the table by term alone: the one model
-- that reads it (110_pupil_term_measure) scans it whole and groups by (student_key, term), erasure deletes
-- by student_key (the primary key's leading column), and analysts reach grades through the marts. The index
-- was paid for on every build: the build truncates and re-inserts every grade (540,775 rows at 40,000
-- pupils), and the insert with both indexes took 5.5, 5.2 and 6.1 s against 4.4, 4.8 and 4.7 s with the
-- primary key alone (EXPLAIN ANALYZE of 060_fact_grade.sql on the bench warehouse, docs/profiles/).
DROP INDEX IF EXISTS core.fact_grade_term;
