-- mart_candidate.group_term (DESIGN 5) from the suppressed cells.
-- Means ignore unknown values (as AVG does). improved_share: among pupils with a known share_passed this
-- term and the previous one, the share whose share_passed rose. eligible_vocational_share: among pupils
-- in school year final_school_year with grades this term, the share eligible. high/very_high_absence_share:
-- among pupils with a known absence_rate, the share at or above absence_high / absence_very_high.
-- Each is NULL when its denominator is 0. A suppressed row has every measure NULL, n_students too.
-- absence_status 'not_extracted': a pupil of the group (unread_n > 0) has an attendance window that was
-- never read, so the absence figures are NULL rather than a mean over part of the group.
TRUNCATE mart_candidate.group_term;

INSERT INTO mart_candidate.group_term (
    term, population, programme, district, sex, school_year,
    n_students, share_passed_mean, improved_share, merit_value_mean, eligible_vocational_share,
    absence_rate_mean, high_absence_share, very_high_absence_share, suppressed, absence_status)
SELECT term, population, programme, district, sex, school_year,
       n,
       (share_sum / nullif(share_n, 0))::double precision,
       improved::double precision / nullif(improved_known, 0),
       (merit_sum / nullif(merit_n, 0))::double precision,
       final_year_eligible::double precision / nullif(final_year_graded, 0),
       CASE WHEN unread_n = 0 THEN (absence_sum / nullif(absence_n, 0))::double precision END,
       CASE WHEN unread_n = 0 THEN high_n::double precision / nullif(absence_n, 0) END,
       CASE WHEN unread_n = 0 THEN very_high_n::double precision / nullif(absence_n, 0) END,
       false,
       CASE WHEN unread_n = 0 THEN 'reported' ELSE 'not_extracted' END
FROM group_cell
WHERE NOT suppressed
UNION ALL
SELECT term, population, programme, district, sex, school_year,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, true,
       CASE WHEN unread_n = 0 THEN 'reported' ELSE 'not_extracted' END
FROM group_cell
WHERE suppressed;

ANALYZE mart_candidate.group_term;
