-- core.fact_grade: the grade that counts per pupil, subject and term (DESIGN 6).
-- * term = semester || year of the grade; grades without both are left out (no term to count for).
-- * subject = the syllabus's subject designation (upper case); syllabuses without one are left out.
-- * grade values A–F and '-' (streck; an en or em dash is read as '-'); any other value is left out.
-- * deleted grades do not count: the extractor removes them from staging, and any id listed in
--   staging.ss12000_deleted is excluded as well (ids are UUIDs, so the entity name is not needed).
-- * the latest registered grade counts: registered_date, then modified_at, then id (for determinism).
-- * points A=20, B=17.5, C=15, D=12.5, E=10, F and '-' 0; passed = A–E.
TRUNCATE core.fact_grade;

WITH syllabus AS MATERIALIZED (     -- normalise each syllabus once, not once per grade
    SELECT id, upper(btrim(subject_designation)) AS subject_designation
    FROM staging.ss12000_syllabus
    WHERE nullif(btrim(subject_designation), '') IS NOT NULL
),
g AS (
    SELECT p.student_key,
           g.semester || g.year AS term,
           s.subject_designation,
           g.id,
           translate(upper(btrim(g.grade_value)), '–—', '--') AS grade_value,
           g.registered_date,
           g.modified_at
    FROM staging.ss12000_grade g
    JOIN staging.ss12000_person p ON p.person_ref = g.person_ref
    JOIN core.dim_pupil dp ON dp.student_key = p.student_key
    JOIN syllabus s ON s.id = g.syllabus_id
    WHERE g.semester IN ('HT', 'VT')
      AND g.year IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM staging.ss12000_deleted d WHERE d.id = g.id)
)
INSERT INTO core.fact_grade (student_key, term, subject_designation, grade_id, grade_value, points, passed,
                             registered_date, modified_at)
SELECT DISTINCT ON (student_key, term, subject_designation)
       student_key, term, subject_designation, id, grade_value,
       CASE grade_value WHEN 'A' THEN 20 WHEN 'B' THEN 17.5 WHEN 'C' THEN 15
                        WHEN 'D' THEN 12.5 WHEN 'E' THEN 10 ELSE 0 END,
       grade_value IN ('A', 'B', 'C', 'D', 'E'),
       registered_date, modified_at
FROM g
WHERE grade_value IN ('A', 'B', 'C', 'D', 'E', 'F', '-')
ORDER BY student_key, term, subject_designation, registered_date DESC, modified_at DESC, id DESC;

ANALYZE core.fact_grade;
