-- core.pupil_term_measure: every measure of DESIGN 6 per pupil and term, for every pupil-term with an
-- enrolment, a grade or attendance. Participants and comparison pupils are measured alike from here.
--
-- Grades (core.fact_grade, the grade that counts per subject):
-- * SV and SVA are alternatives (Skolverket): they share one slot and only the better grade of the two
--   counts, in the subject counts, the merit value and the eligibility alike.
-- * subjects_graded / subjects_passed: slots with a grade / with A–E; moderna språk and modersmål count.
-- * share_passed = subjects_passed / subjects_graded; NULL without a grade.
-- * merit_value = the 16 best grades other than moderna språk (modersmål may be one of them), plus the best
--   moderna språk grade as a 17th; fewer than 16 grades: the sum of those there are. Max 16*20 + 20 = 340.
-- * eligibility (E or better), from that term's grades whatever the school year:
--     core        = SV/SVA, EN and MA passed; "other subjects" = passed slots other than those three
--                   (moderna språk and modersmål included, as Skolverket counts any subject)
--     vocational  = core and >= 5 other subjects
--     hp_ek_hu_sa = core and >= 9 other subjects, GE, HI, RE and SH among them (all four)
--     hp_na_te    = core and >= 9 other subjects, BI, FY and KE among them (all three)
--     hp_es       = core and >= 9 other subjects
--   NULL without a grade that term.
-- Absence (core.fact_term_attendance, the term window):
-- * absence_rate = (valid + invalid absence) / offered minutes; NULL when nothing was offered (0 or
--   unknown) or neither absence sum is known; a missing one of the two counts as 0.
-- * invalid_absence_rate = invalid / offered; NULL when nothing was offered or invalid is unknown.
-- * absence_status (core.term_attendance_status, per term and school system): 'not_extracted' when the
--   attendance window of a school system the pupil was in that term (an enrolment overlapping it; for a
--   pupil-term without one, any system that knows the pupil) was never read; then every absence figure is
--   NULL, never 0 and never computed from the systems that were read. Else 'reported' with attendance
--   for the pupil, 'not_reported' without (read, and the school reported nothing).
-- * bands from the settings absence_high / absence_very_high, compared exactly (numeric, not float) so
--   10 % exactly is '10-20%' and 20 % exactly is '>=20%'; the labels are made from the same settings.
TRUNCATE core.pupil_term_measure;

WITH params AS MATERIALIZED (      -- once, not once per row (core.param runs a query)
    SELECT core.param('absence_high')::numeric      AS high,
           core.param('absence_very_high')::numeric AS very_high
),
graded AS (              -- one hash aggregate over the grades, no sort of 1.4 M rows
    SELECT g.student_key, g.term,
           -- SV and SVA share a slot: the slot is graded once, and passed when the better grade is
           -- (passed = points > 0, so the better grade passes when either does)
           count(*) FILTER (WHERE s.slot <> 'SV/SVA')
             + (count(*) FILTER (WHERE s.slot = 'SV/SVA') > 0)::integer              AS subjects_graded,
           count(*) FILTER (WHERE s.slot <> 'SV/SVA' AND g.passed)
             + coalesce(bool_or(g.passed) FILTER (WHERE s.slot = 'SV/SVA'), false)::integer AS subjects_passed,
           -- grades other than moderna språk, the worse of SV and SVA left out
           count(*) FILTER (WHERE s.kind <> 'moderna_sprak')
             - (count(*) FILTER (WHERE s.slot = 'SV/SVA') = 2)::integer                AS n_other,
           coalesce(sum(g.points) FILTER (WHERE s.kind <> 'moderna_sprak'), 0)
             - CASE WHEN count(*) FILTER (WHERE s.slot = 'SV/SVA') = 2
                    THEN min(g.points) FILTER (WHERE s.slot = 'SV/SVA') ELSE 0 END      AS other_points,
           coalesce(max(g.points) FILTER (WHERE s.kind = 'moderna_sprak'), 0)         AS best_moderna_points,
           coalesce(bool_or(g.passed) FILTER (WHERE s.slot = 'SV/SVA'), false)
             AND coalesce(bool_or(g.passed) FILTER (WHERE s.slot = 'EN'), false)
             AND coalesce(bool_or(g.passed) FILTER (WHERE s.slot = 'MA'), false)      AS core_passed,
           count(*) FILTER (WHERE g.passed AND NOT s.core_subject)                    AS others_passed,
           count(*) FILTER (WHERE g.passed AND s.hp_ek_hu_sa_required) = 4            AS ek_hu_sa_passed, -- GE HI RE SH
           count(*) FILTER (WHERE g.passed AND s.hp_na_te_required) = 3               AS na_te_passed     -- BI FY KE
    FROM core.fact_grade g
    JOIN core.dim_subject s ON s.subject_designation = g.subject_designation
    GROUP BY g.student_key, g.term
),
beyond_16 AS (           -- pupils with more than 16 such grades: the points of those below the 16 best
    SELECT r.student_key, r.term, sum(r.points) AS points
    FROM (
        SELECT o.student_key, o.term, o.points,
               row_number() OVER (PARTITION BY o.student_key, o.term ORDER BY o.points DESC) AS rank
        FROM (
            SELECT g.student_key, g.term, g.points,
                   row_number() OVER (PARTITION BY g.student_key, g.term, s.slot ORDER BY g.points DESC) AS in_slot
            FROM core.fact_grade g
            JOIN core.dim_subject s ON s.subject_designation = g.subject_designation
            JOIN graded gr ON gr.student_key = g.student_key AND gr.term = g.term AND gr.n_other > 16
            WHERE s.kind <> 'moderna_sprak'
        ) o
        WHERE o.in_slot = 1
    ) r
    WHERE r.rank > 16
    GROUP BY r.student_key, r.term
),
attendance AS (
    SELECT a.*,
           CASE WHEN a.offered_minutes > 0
                 AND (a.valid_absence_minutes IS NOT NULL OR a.invalid_absence_minutes IS NOT NULL)
                THEN (coalesce(a.valid_absence_minutes, 0) + coalesce(a.invalid_absence_minutes, 0))::numeric
                     / a.offered_minutes END AS rate_exact
    FROM core.fact_term_attendance a
),
unread AS MATERIALIZED (  -- (term, source) whose attendance window was never read: few rows
    SELECT s.term, s.source, t.start_date, t.end_date
    FROM core.term_attendance_status s
    JOIN core.dim_term t ON t.term = s.term
    WHERE s.status = 'never_read'
),
pupil_term_base AS (
    SELECT student_key, term FROM core.fact_pupil_term
    UNION
    SELECT student_key, term FROM graded
    UNION
    SELECT student_key, term FROM core.fact_term_attendance
),
pupil_unread AS (        -- pupil-terms with a school system whose window was never read
    SELECT p.student_key, u.term
    FROM unread u
    JOIN staging.ss12000_enrolment e
      ON e.source = u.source AND NOT e.cancelled
     AND e.start_date <= u.end_date AND coalesce(e.end_date, 'infinity'::date) >= u.start_date
    JOIN staging.ss12000_person p ON p.person_ref = e.person_ref
    UNION
    SELECT k.student_key, k.term      -- no enrolment that term (grades only): the systems that know the pupil
    FROM pupil_term_base k
    JOIN unread u ON u.term = k.term
    WHERE NOT EXISTS (SELECT 1 FROM core.fact_pupil_term pt WHERE pt.student_key = k.student_key AND pt.term = k.term)
      AND EXISTS (SELECT 1 FROM staging.ss12000_person p WHERE p.student_key = k.student_key AND p.source = u.source)
),
pupil_term AS (
    SELECT k.student_key, k.term, (u.student_key IS NOT NULL) AS unread
    FROM pupil_term_base k
    LEFT JOIN pupil_unread u ON u.student_key = k.student_key AND u.term = k.term
)
INSERT INTO core.pupil_term_measure
SELECT k.student_key, k.term,
       pt.school_unit_id, pt.school_unit_code, pt.school_year,
       coalesce(g.subjects_graded, 0), coalesce(g.subjects_passed, 0),
       g.subjects_passed::double precision / g.subjects_graded,
       g.other_points - coalesce(b.points, 0) + g.best_moderna_points,
       g.core_passed AND g.others_passed >= 5,
       g.core_passed AND g.others_passed >= 9 AND g.ek_hu_sa_passed,
       g.core_passed AND g.others_passed >= 9 AND g.na_te_passed,
       g.core_passed AND g.others_passed >= 9,
       a.offered_minutes, a.attended_minutes, a.valid_absence_minutes, a.invalid_absence_minutes,
       a.rate_exact::double precision,
       CASE WHEN a.offered_minutes > 0 THEN a.invalid_absence_minutes::double precision / a.offered_minutes END,
       CASE WHEN a.rate_exact IS NULL THEN NULL
            WHEN a.rate_exact >= p.very_high THEN '>=' || trim_scale(p.very_high * 100) || '%'
            WHEN a.rate_exact >= p.high THEN trim_scale(p.high * 100) || '-' || trim_scale(p.very_high * 100) || '%'
            ELSE '<' || trim_scale(p.high * 100) || '%' END,
       a.rate_exact >= p.high,
       a.rate_exact >= p.very_high,
       CASE WHEN k.unread THEN 'not_extracted' WHEN a.student_key IS NOT NULL THEN 'reported'
            ELSE 'not_reported' END
FROM pupil_term k
CROSS JOIN params p
LEFT JOIN core.fact_pupil_term pt ON pt.student_key = k.student_key AND pt.term = k.term
LEFT JOIN graded g ON g.student_key = k.student_key AND g.term = k.term
LEFT JOIN beyond_16 b ON b.student_key = k.student_key AND b.term = k.term
LEFT JOIN attendance a ON a.student_key = k.student_key AND a.term = k.term AND NOT k.unread;

ANALYZE core.pupil_term_measure;
