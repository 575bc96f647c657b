-- core.term_attendance_status: per calendar term and source, whether its attendance window was extracted
-- (audit.extract_coverage, written by the extractor). A term never read has status 'never_read' and reason
-- 'attendance_window_never_extracted': its absence figures are NULL because nothing was read, which the
-- marts and the report can say, rather than because the school reported no absence.
-- Attendance in staging without a coverage row (loaded before coverage was recorded) counts as read.
-- Every source that delivered pupils has a row per term, also one that never read attendance at all (so
-- its pupils' absence is 'not_extracted' in core.pupil_term_measure, not 'not_reported').
TRUNCATE core.term_attendance_status;

WITH legacy AS (
    SELECT DISTINCT source, term FROM staging.ss12000_attendance
),
known_sources AS (       -- every source that read attendance, tried to (a source whose extract has
    SELECT source FROM audit.extract_coverage WHERE entity = 'aggregatedAttendance'   -- failed from the
    UNION SELECT source FROM legacy                                                   -- start is never_read
    UNION SELECT source FROM audit.load_run WHERE entity = 'aggregatedAttendance'     -- in every term), or
    UNION SELECT DISTINCT source FROM staging.ss12000_person                          -- delivered pupils
),
sources AS (              -- the sources known; before any read, the default one
    SELECT source FROM known_sources
    UNION SELECT 'ss12000' WHERE NOT EXISTS (SELECT 1 FROM known_sources)
)
INSERT INTO core.term_attendance_status (term, source, status, reason, window_start, window_end, read_at)
SELECT t.term, s.source,
       CASE WHEN c.term IS NOT NULL OR l.term IS NOT NULL THEN 'read' ELSE 'never_read' END,
       CASE WHEN c.term IS NOT NULL OR l.term IS NOT NULL THEN NULL
            ELSE 'attendance_window_never_extracted' END,
       c.window_start, c.window_end, c.read_at
FROM core.dim_term t
CROSS JOIN sources s
LEFT JOIN audit.extract_coverage c
       ON c.term = t.term AND c.source = s.source AND c.entity = 'aggregatedAttendance'
LEFT JOIN legacy l ON l.term = t.term AND l.source = s.source;

ANALYZE core.term_attendance_status;
