-- core.dim_district: every district name a list may carry (today's eleven and the names before the
-- mergers of 2020 and 2023) with today's district (seeded by build.py from skolsam.districts.NAMES).
TRUNCATE core.dim_district;

INSERT INTO core.dim_district (name, current_district, valid_from, valid_to)
SELECT name, current_district, valid_from, valid_to
FROM core.seed_district_name;

ANALYZE core.dim_district;
