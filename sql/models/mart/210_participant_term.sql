-- mart_candidate.participant_term (DESIGN 5): one row per participant, programme and term of the build.
-- Protected pupils (a security marking in SS 12000) never appear here; they count in group_term only.
-- Participants not found in SS 12000 are left out (see 200_mart_pupil.sql).
-- A participant without grades has subjects_graded = subjects_passed = 0 and NULL grade measures; without
-- attendance, NULL minutes and rates. prev_* come from the previous term whether or not the pupil took
-- part then; each *_change is this term minus the previous term, NULL when either is NULL.
-- absence_status / prev_absence_status (060_absence_status.sql): whether this and the previous term's
-- absence figures come from a read window; 'not_extracted' figures are NULL (core.pupil_term_measure).
-- student_key is the per-term pseudonym (DESIGN 5): the build fills participant_term_key (session-local,
-- see skolsam/mart_pseudonym.py) with an HMAC of the warehouse key and the term under the mart key, so the
-- analysts' rows link neither across terms nor to staging and core.
TRUNCATE mart_candidate.participant_term;

INSERT INTO mart_candidate.participant_term (
    student_key, programme, term, district, school_unit_code, school_year, sex,
    subjects_graded, subjects_passed, share_passed, merit_value,
    eligible_vocational, eligible_hp_ek_hu_sa, eligible_hp_na_te, eligible_hp_es,
    offered_minutes, attended_minutes, valid_absence_minutes, invalid_absence_minutes,
    absence_rate, invalid_absence_rate, absence_band,
    prev_term, prev_share_passed, share_passed_change, prev_merit_value, merit_value_change,
    prev_absence_rate, absence_rate_change, absence_status, prev_absence_status)
SELECT tk.term_key, fp.programme, fp.term, fp.district, m.school_unit_code, m.school_year, dp.sex,
       coalesce(m.subjects_graded, 0), coalesce(m.subjects_passed, 0), m.share_passed, m.merit_value,
       m.eligible_vocational, m.eligible_hp_ek_hu_sa, m.eligible_hp_na_te, m.eligible_hp_es,
       m.offered_minutes, m.attended_minutes, m.valid_absence_minutes, m.invalid_absence_minutes,
       m.absence_rate, m.invalid_absence_rate, m.absence_band,
       t.prev_term,
       pm.share_passed, m.share_passed - pm.share_passed,
       pm.merit_value, m.merit_value - pm.merit_value,
       pm.absence_rate, m.absence_rate - pm.absence_rate,
       mp.absence_status,
       coalesce(pm.absence_status,
                CASE WHEN EXISTS (SELECT 1 FROM staging.ss12000_person sp
                                  JOIN core.term_attendance_status s ON s.source = sp.source AND s.term = t.prev_term
                                  WHERE sp.student_key = fp.student_key AND s.status = 'never_read')
                     THEN 'not_extracted' ELSE 'not_reported' END)
FROM core.fact_participation fp
JOIN core.build_term b ON b.term = fp.term
JOIN core.dim_term t ON t.term = fp.term
JOIN core.dim_pupil dp ON dp.student_key = fp.student_key
JOIN mart_pupil mp ON mp.term = fp.term AND mp.student_key = fp.student_key
JOIN participant_term_key tk ON tk.student_key = fp.student_key AND tk.term = fp.term
LEFT JOIN core.pupil_term_measure m ON m.student_key = fp.student_key AND m.term = fp.term
LEFT JOIN core.pupil_term_measure pm ON pm.student_key = fp.student_key AND pm.term = t.prev_term
WHERE NOT dp.protected;

ANALYZE mart_candidate.participant_term;
