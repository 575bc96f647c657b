"""SS 12000 (SIS TK450, implementation spec 2.1.0): the stand-in server, the API client and the extractor.

* :mod:`.index`   - a dataset folder indexed into SQLite (raw JSON text plus the keys we filter and sort on)
* :mod:`.server`  - the stand-in server (Starlette + uvicorn) with bearer tokens, keyset pagination and
  fault switches; ``running_server(dataset)`` for tests and the demo
* :mod:`.client`  - httpx client: client-credentials tokens, pagination, retries with backoff
* :mod:`.extract` - entity by entity into ``staging.ss12000_*``, pseudonymised at the door
* :mod:`.bench`   - the extraction throughput benchmark

Importing this package imports nothing heavy; each module pulls in what it needs.
"""
