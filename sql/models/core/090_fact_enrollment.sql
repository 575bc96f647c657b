-- core.fact_enrollment: programme periods per pupil from the social-services lists.
-- district: today's district of the district named in the list (core.dim_district); the intake's own
-- mapping (staging.enrollment.district) is kept when the delivered name is not in the dimension.
-- effective_end_date: an open period (no slutdatum) runs until the build's as_of_date, and no period counts
-- beyond it, so an ongoing enrollment never makes its pupil a participant of a term that has not begun.
TRUNCATE core.fact_enrollment;

INSERT INTO core.fact_enrollment (student_key, programme, start_date, end_date, effective_end_date,
                                  district_delivered, district, school_unit_code)
SELECT e.student_key, e.programme, e.start_date, e.end_date,
       least(coalesce(e.end_date, (SELECT core.param('as_of_date')::date)), (SELECT core.param('as_of_date')::date)),
       e.district_delivered,
       coalesce(d.current_district, e.district), e.school_unit_code
FROM staging.enrollment e
LEFT JOIN core.dim_district d ON lower(d.name) = lower(btrim(e.district_delivered))
WHERE NOT EXISTS (SELECT 1 FROM audit.erased_key k WHERE k.student_key = e.student_key);

ANALYZE core.fact_enrollment;
