-- Issue 10: never publish an absence figure from a window that was never extracted. Per pupil and term
-- (core), per participant row and per group row (marts), whether the absence figures come from a read
-- attendance window:
--   'reported'       the window was read from every school system the pupil was in that term, and the
--                    school reported attendance for the pupil;
--   'not_reported'   the window was read, and the school reported no attendance for the pupil;
--   'not_extracted'  the window of a school system the pupil was in that term was never read
--                    (core.term_attendance_status 'never_read'): every absence figure is NULL.
-- group_term: 'reported' when every pupil of the group has a read window, 'not_extracted' when one has not
-- (the group's absence figures are NULL: a mean over the rest would be a figure from part of the window).
-- target_group: the same per cell; 'not_extracted' cells have no target-group counts (the criteria need the
-- absence rate).
ALTER TABLE core.pupil_term_measure
    ADD COLUMN absence_status text NOT NULL DEFAULT 'not_reported'
        CHECK (absence_status IN ('reported', 'not_reported', 'not_extracted'));
ALTER TABLE core.pupil_term_measure ALTER COLUMN absence_status DROP DEFAULT;

-- Rows published before this migration: what they held is all that is known (the next build, which
-- rebuilds every published term, replaces them with statuses from the extract coverage).
ALTER TABLE mart.participant_term
    ADD COLUMN absence_status text CHECK (absence_status IN ('reported', 'not_reported', 'not_extracted')),
    ADD COLUMN prev_absence_status text CHECK (prev_absence_status IN ('reported', 'not_reported', 'not_extracted'));
UPDATE mart.participant_term
   SET absence_status = CASE WHEN offered_minutes IS NOT NULL THEN 'reported' ELSE 'not_reported' END,
       prev_absence_status = CASE WHEN prev_absence_rate IS NOT NULL THEN 'reported' ELSE 'not_reported' END;
ALTER TABLE mart.participant_term ALTER COLUMN absence_status SET NOT NULL,
                                  ALTER COLUMN prev_absence_status SET NOT NULL;

ALTER TABLE mart.group_term
    ADD COLUMN absence_status text NOT NULL DEFAULT 'reported' CHECK (absence_status IN ('reported', 'not_extracted'));
ALTER TABLE mart.group_term ALTER COLUMN absence_status DROP DEFAULT;
ALTER TABLE mart.target_group
    ADD COLUMN absence_status text NOT NULL DEFAULT 'reported' CHECK (absence_status IN ('reported', 'not_extracted'));
ALTER TABLE mart.target_group ALTER COLUMN absence_status DROP DEFAULT;

-- Candidates are a build's working copy: a build prepared before this migration is not published (its
-- build_info goes, so its publish fails with CandidatesReplaced and the next build prepares again).
TRUNCATE core.build_info, mart_candidate.participant_term, mart_candidate.group_term, mart_candidate.target_group;
ALTER TABLE mart_candidate.participant_term
    ADD COLUMN absence_status text NOT NULL CHECK (absence_status IN ('reported', 'not_reported', 'not_extracted')),
    ADD COLUMN prev_absence_status text NOT NULL CHECK (prev_absence_status IN ('reported', 'not_reported', 'not_extracted'));
ALTER TABLE mart_candidate.group_term
    ADD COLUMN absence_status text NOT NULL CHECK (absence_status IN ('reported', 'not_extracted'));
ALTER TABLE mart_candidate.target_group
    ADD COLUMN absence_status text NOT NULL CHECK (absence_status IN ('reported', 'not_extracted'));
