-- core.fact_term_attendance: per pupil and term, the minutes of the term window summed over activities.
-- Staging holds one row per person, activity and window as /aggregatedAttendance summed it. Should a
-- term hold more than one window for a person (a mid-term extract, then the full term), only the latest
-- window counts (latest window_end, then earliest window_start) so no minute is counted twice.
-- A pupil known under two source person ids: the minutes of both are added.
TRUNCATE core.fact_term_attendance;

WITH per_window AS (          -- hash aggregate: one row per person, term and window
    SELECT a.person_ref, a.term, a.window_start, a.window_end,
           sum(a.offered_minutes)          AS offered,
           sum(a.attendance_minutes)       AS attended,
           sum(a.valid_absence_minutes)    AS valid_absence,
           sum(a.invalid_absence_minutes)  AS invalid_absence
    FROM staging.ss12000_attendance a
    GROUP BY a.person_ref, a.term, a.window_start, a.window_end
),
chosen AS (
    SELECT DISTINCT ON (person_ref, term) *
    FROM per_window
    ORDER BY person_ref, term, window_end DESC, window_start
)
INSERT INTO core.fact_term_attendance (student_key, term, window_start, window_end, offered_minutes,
                                       attended_minutes, valid_absence_minutes, invalid_absence_minutes)
SELECT p.student_key, c.term, min(c.window_start), max(c.window_end),
       sum(c.offered), sum(c.attended), sum(c.valid_absence), sum(c.invalid_absence)
FROM chosen c
JOIN staging.ss12000_person p ON p.person_ref = c.person_ref
JOIN core.dim_pupil dp ON dp.student_key = p.student_key
GROUP BY p.student_key, c.term;

ANALYZE core.fact_term_attendance;
