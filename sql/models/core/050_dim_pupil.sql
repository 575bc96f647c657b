-- core.dim_pupil: one row per student_key from the SS 12000 persons. A pupil known under two source
-- person ids keeps the sex and birth year of the most recently modified record, and is protected when
-- any of the records carries a security marking (the safe side). Erased pupils never enter core.
TRUNCATE core.dim_pupil;

INSERT INTO core.dim_pupil (student_key, sex, birth_year, protected)
SELECT DISTINCT ON (p.student_key)
       p.student_key, p.sex, p.birth_year,
       bool_or(p.protected) OVER (PARTITION BY p.student_key)
FROM staging.ss12000_person p
WHERE NOT EXISTS (SELECT 1 FROM audit.erased_key e WHERE e.student_key = p.student_key)
  AND NOT EXISTS (SELECT 1 FROM audit.erased_ref r WHERE r.person_ref = p.person_ref)
ORDER BY p.student_key, p.modified_at DESC, p.person_ref;

ANALYZE core.dim_pupil;
