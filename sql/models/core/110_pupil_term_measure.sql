-- core.pupil_term_measure: every measure of DESIGN 6 per pupil and term, for every pupil-term with an
-- enrolment, a grade or attendance. Participants and comparison pupils are measured alike from here.
--
-- Grades (core.fact_grade, the grade that counts per subject):
-- * SV and SVA are alternatives (Skolverket): they share one slot and only the better grade of the two
--   counts, in the subject counts, the merit value and the eligibility alike (SV on a tie).
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
-- * bands from the settings absence_high / absence_very_high, compared exactly (numeric, not float) so
--   10 % exactly is '10-20%' and 20 % exactly is '>=20%'; the labels are made from the same settings.
TRUNCATE core.pupil_term_measure;

WITH params AS (
    SELECT core.param('absence_high')::numeric      AS high,
           core.param('absence_very_high')::numeric AS very_high
),
graded_subject AS (
    SELECT g.student_key, g.term, s.slot, s.kind, s.core_subject, s.hp_ek_hu_sa_required, s.hp_na_te_required,
           g.points, g.passed
    FROM core.fact_grade g
    JOIN core.dim_subject s ON s.subject_designation = g.subject_designation
    WHERE s.slot <> 'SV/SVA'
    UNION ALL
    SELECT * FROM (
        SELECT DISTINCT ON (g.student_key, g.term)
               g.student_key, g.term, s.slot, s.kind, s.core_subject, s.hp_ek_hu_sa_required,
               s.hp_na_te_required, g.points, g.passed
        FROM core.fact_grade g
        JOIN core.dim_subject s ON s.subject_designation = g.subject_designation
        WHERE s.slot = 'SV/SVA'
        ORDER BY g.student_key, g.term, g.points DESC, g.subject_designation
    ) sv
),
ranked AS (
    SELECT gs.*,
           row_number() OVER (PARTITION BY gs.student_key, gs.term, gs.kind = 'moderna_sprak'
                              ORDER BY gs.points DESC) AS rank_in_kind
    FROM graded_subject gs
),
graded AS (
    SELECT student_key, term,
           count(*)                                                        AS subjects_graded,
           count(*) FILTER (WHERE passed)                                  AS subjects_passed,
           coalesce(sum(points) FILTER (WHERE kind <> 'moderna_sprak' AND rank_in_kind <= 16), 0)
             + coalesce(max(points) FILTER (WHERE kind = 'moderna_sprak'), 0) AS merit_value,
           count(*) FILTER (WHERE passed AND core_subject) = 3             AS core_passed,      -- SV/SVA, EN, MA
           count(*) FILTER (WHERE passed AND NOT core_subject)             AS others_passed,
           count(*) FILTER (WHERE passed AND hp_ek_hu_sa_required) = 4     AS ek_hu_sa_passed,  -- GE, HI, RE, SH
           count(*) FILTER (WHERE passed AND hp_na_te_required) = 3        AS na_te_passed      -- BI, FY, KE
    FROM ranked
    GROUP BY student_key, term
),
attendance AS (
    SELECT a.*,
           CASE WHEN a.offered_minutes > 0
                 AND (a.valid_absence_minutes IS NOT NULL OR a.invalid_absence_minutes IS NOT NULL)
                THEN (coalesce(a.valid_absence_minutes, 0) + coalesce(a.invalid_absence_minutes, 0))::numeric
                     / a.offered_minutes END AS rate_exact
    FROM core.fact_term_attendance a
),
pupil_term AS (
    SELECT student_key, term FROM core.fact_pupil_term
    UNION
    SELECT student_key, term FROM graded
    UNION
    SELECT student_key, term FROM core.fact_term_attendance
)
INSERT INTO core.pupil_term_measure
SELECT k.student_key, k.term,
       pt.school_unit_id, pt.school_unit_code, pt.school_year,
       coalesce(g.subjects_graded, 0), coalesce(g.subjects_passed, 0),
       g.subjects_passed::double precision / g.subjects_graded,
       g.merit_value,
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
       a.rate_exact >= p.very_high
FROM pupil_term k
CROSS JOIN params p
LEFT JOIN core.fact_pupil_term pt ON pt.student_key = k.student_key AND pt.term = k.term
LEFT JOIN graded g ON g.student_key = k.student_key AND g.term = k.term
LEFT JOIN attendance a ON a.student_key = k.student_key AND a.term = k.term;

ANALYZE core.pupil_term_measure;
