"""One mapper per SS 12000 entity family: which fields become which staging columns, and the checks.

* :mod:`.catalogue`  - organisations and syllabuses (strict check per record; small tables)
* :mod:`.persons`    - persons and their enrolments, pseudonymised at the door
* :mod:`.grades`     - grades (typed records, strict check for a record that does not fit)
* :mod:`.attendance` - aggregated attendance per term window (typed, the same way)

Each module holds its tables' columns and a :class:`..pipeline.Mapper`; the loaders in :mod:`..loaders`
decide where the rows go (temp table, or straight into an empty staging table) and merge them.
"""
