-- core.dim_subject: one row per subject designation (upper case) found in the syllabuses.
-- kind: M1…/M2… moderna språk, ML… modersmål, anything else an ordinary subject (DESIGN 6).
-- slot: the subject as the merit value and eligibility see it. SV and SVA are alternatives (Skolverket:
-- a pupil reads one of them), so they share the slot 'SV/SVA' and only the better grade of the two counts.
-- core_subject / hp_*_required: the subjects named by the eligibility rules of DESIGN 6.
TRUNCATE core.dim_subject;

WITH s AS (
    SELECT upper(btrim(subject_designation)) AS designation, subject_name, modified_at
    FROM staging.ss12000_syllabus
    WHERE nullif(btrim(subject_designation), '') IS NOT NULL
)
INSERT INTO core.dim_subject (subject_designation, subject_name, kind, slot, core_subject,
                              hp_ek_hu_sa_required, hp_na_te_required)
SELECT DISTINCT ON (s.designation)
       designation,
       subject_name,
       CASE WHEN designation ~ '^M[12]' THEN 'moderna_sprak'
            WHEN designation ~ '^ML' THEN 'modersmal'
            ELSE 'ordinary' END,
       CASE WHEN designation IN ('SV', 'SVA') THEN 'SV/SVA' ELSE designation END,
       designation IN ('SV', 'SVA', 'EN', 'MA'),
       designation IN ('GE', 'HI', 'RE', 'SH'),
       designation IN ('BI', 'FY', 'KE')
FROM s
ORDER BY s.designation, s.modified_at DESC, s.subject_name;

ANALYZE core.dim_subject;
