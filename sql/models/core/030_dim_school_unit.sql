-- core.dim_school_unit: the SS 12000 organisations of type Skolenhet.
-- district: the nearest ancestor organisation of type Förvaltning (or the deprecated synonym Stadsdel)
-- whose display name is one of the districts (ignoring case and an "… stadsdelsförvaltning" suffix),
-- mapped to today's district; NULL when the unit sits under no district (e.g. an independent school).
TRUNCATE core.dim_school_unit;

WITH RECURSIVE ancestry AS (
    SELECT o.id AS school_unit_id, o.parent_id AS ancestor_id, 1 AS depth
    FROM staging.ss12000_organisation o
    WHERE o.organisation_type = 'Skolenhet'
    UNION ALL
    SELECT a.school_unit_id, p.parent_id, a.depth + 1
    FROM ancestry a
    JOIN staging.ss12000_organisation p ON p.id = a.ancestor_id
    WHERE p.organisation_type NOT IN ('Förvaltning', 'Stadsdel') AND a.depth < 10
),
district_of AS (
    SELECT DISTINCT ON (a.school_unit_id) a.school_unit_id, d.current_district
    FROM ancestry a
    JOIN staging.ss12000_organisation p ON p.id = a.ancestor_id
    JOIN core.dim_district d
      ON lower(d.name) = regexp_replace(lower(btrim(p.display_name)),
                                        '\s*(stadsdelsförvaltning|stadsdelsnämnd|sdf|sdn)$', '')
    WHERE p.organisation_type IN ('Förvaltning', 'Stadsdel')
    ORDER BY a.school_unit_id, a.depth
)
INSERT INTO core.dim_school_unit (school_unit_id, school_unit_code, name, district)
SELECT o.id, o.school_unit_code, o.display_name, d.current_district
FROM staging.ss12000_organisation o
LEFT JOIN district_of d ON d.school_unit_id = o.id
WHERE o.organisation_type = 'Skolenhet';

ANALYZE core.dim_school_unit;
