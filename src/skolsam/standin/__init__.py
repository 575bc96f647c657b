"""The stand-in SS 12000 education system, for the demo, the tests and the benchmark only.

Production code (the client, the extractor, the DAGs' tasks) never imports this package
(tests/test_standin_isolation.py checks it).

* :mod:`.index`  - a dataset folder indexed into SQLite (raw JSON text plus the keys we filter and sort on)
* :mod:`.lines`  - msgspec structs for reading dataset lines quickly
* :mod:`.server` - the server (Starlette + uvicorn) with bearer tokens, keyset pagination and fault
  switches; ``running_server(dataset)`` for tests and the demo
* :mod:`.bench`  - the extraction throughput benchmark against it
"""
