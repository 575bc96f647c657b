"""SS 12000 (SIS TK450, implementation spec 2.1.0): the API client and the extractor.

* :mod:`.client`   - httpx client and its config (``ApiConfig``): tokens, pagination, retries with backoff
* :mod:`.schema`   - typed records, value sets derived from them, validators, timestamps, reason codes
* :mod:`.mappers`  - one mapper per entity family (catalogue, persons, grades, attendance)
* :mod:`.pipeline` - fetch, map and COPY pages in three overlapping stages
* :mod:`.loaders`  - per entity: where rows go, merges into staging, watermarks, deletions
* :mod:`.extract`  - the entry points (``extract_entity``, ``extract_all``, ``resolve_terms``)

The stand-in server is apart, in :mod:`skolsam.standin`. Importing this package imports nothing heavy;
each module pulls in what it needs.
"""
