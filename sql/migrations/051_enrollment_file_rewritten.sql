-- An archived list rewritten by erasure (its erased pupils' records removed) has a new checksum. It is the
-- same delivery, so its checksum is recorded as processed, pointing at the original's: a coordinator who
-- re-delivers the archived copy changes nothing. NULL for lists as delivered.
ALTER TABLE staging.enrollment_file ADD COLUMN rewritten_from text;
