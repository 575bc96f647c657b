-- Working set of the mart build (session-local, dropped at commit): every pupil of the build's terms
-- with the figures the group cells add up. Pupils come from core.pupil_term_measure and from the
-- participations; only pupils found in SS 12000 (core.dim_pupil) take part: a participant who cannot be
-- found has no sex, school or protection status we could know, so neither mart shows them (the
-- match-rate gate watches how many they are).
-- in_programme: enrolled in any programme for at least one day of the term. Such a pupil is never a
-- comparison pupil, even if the overlap is shorter than participation_min_overlap_days.
-- absence_status: core.pupil_term_measure's; a participant without a measure row that term (no enrolment,
-- grade or attendance) is 'not_extracted' when a school system that knows them never had the window read.
DROP TABLE IF EXISTS pg_temp.mart_pupil;

CREATE TEMP TABLE mart_pupil ON COMMIT DROP AS
WITH params AS MATERIALIZED (      -- once, not once per row (core.param runs a query)
    SELECT core.param('final_school_year')::integer AS final_year
),
pupil_term AS (
    SELECT m.student_key, m.term FROM core.pupil_term_measure m JOIN core.build_term b ON b.term = m.term
    UNION
    SELECT p.student_key, p.term FROM core.fact_participation p JOIN core.build_term b ON b.term = p.term
)
SELECT k.term, k.student_key, dp.sex, dp.protected,
       m.school_unit_id, m.school_year,
       m.share_passed,
       pm.share_passed AS prev_share_passed,
       m.merit_value,
       m.absence_rate,
       coalesce(m.absence_status,
                CASE WHEN EXISTS (SELECT 1 FROM staging.ss12000_person sp
                                  JOIN core.term_attendance_status s ON s.source = sp.source AND s.term = k.term
                                  WHERE sp.student_key = k.student_key AND s.status = 'never_read')
                     THEN 'not_extracted' ELSE 'not_reported' END)                AS absence_status,
       coalesce(m.high_absence, false)                                           AS high_absence,
       coalesce(m.very_high_absence, false)                                      AS very_high_absence,
       (m.share_passed IS NOT NULL AND pm.share_passed IS NOT NULL)              AS improved_known,
       coalesce(m.share_passed > pm.share_passed, false)                         AS improved,
       coalesce(m.school_year = pa.final_year AND m.subjects_graded > 0, false)  AS final_year_graded,
       coalesce(m.school_year = pa.final_year AND m.subjects_graded > 0
                AND m.eligible_vocational, false)                                AS final_year_eligible,
       EXISTS (SELECT 1 FROM core.fact_enrollment e
               WHERE e.student_key = k.student_key
                 AND e.start_date <= t.end_date
                 AND e.effective_end_date >= t.start_date)     AS in_programme
FROM pupil_term k
CROSS JOIN params pa
JOIN core.dim_pupil dp ON dp.student_key = k.student_key
JOIN core.dim_term t ON t.term = k.term
LEFT JOIN core.pupil_term_measure m ON m.student_key = k.student_key AND m.term = k.term
LEFT JOIN core.pupil_term_measure pm ON pm.student_key = k.student_key AND pm.term = t.prev_term;

ALTER TABLE mart_pupil ADD PRIMARY KEY (term, student_key);
ANALYZE mart_pupil;
