"""Usage: .venv/bin/python docs/profiles/persons_typed_ab.py DATASET PAIRS (test server on 127.0.0.1:5432).

Persons extraction, strict path (USE_TYPED_DECODERS=False: what persons took before the typed path) and
typed path alternately, back to back, against one stand-in child process and one warehouse database."""
import sys, time, uuid, json
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from skolsam.pseudonym import Pseudonymiser
from skolsam.ss12000 import pipeline
from skolsam.ss12000.client import ApiConfig
from skolsam.ss12000.extract import extract_entity
from skolsam.standin.running import running_server
from skolsam.warehouse import connection, migrate
from ss12000_fixtures import api_config

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
name = f"skolsam_speed_{uuid.uuid4().hex[:8]}"
with connection.connect(ADMIN, autocommit=True) as c:
    c.execute(f'CREATE DATABASE "{name}"')
url = ADMIN.rsplit("/", 1)[0] + "/" + name
try:
    migrate.migrate(url)
    pseudo = Pseudonymiser("51abb5223045da05d7f410b293cabf976685093c7b7860f632f6d0e68e1a169e")
    with running_server(Path(sys.argv[1]), in_process=False, demo=True, index_dir=Path(sys.argv[1]) / "../index") as srv:
        api = api_config(srv, page_size=10000)
        order = ["typed"] + ["strict", "typed"] * int(sys.argv[2])
        for i, mode in enumerate(order):
            pipeline.USE_TYPED_DECODERS = mode == "typed"
            t0 = time.perf_counter(); c0 = time.process_time()
            s = extract_entity("persons", url, api, pseudo, full_refresh=True)
            dt = time.perf_counter() - t0
            print(json.dumps({"i": i, "mode": mode, "seconds": round(dt, 2), "client_cpu": round(time.process_time() - c0, 2), "rows_read": s["rows_read"],
                              "rows_loaded": s["rows_loaded"], "quarantined": s["rows_quarantined"],
                              "counts": s.get("counts"), "fallback_pages": s.get("fallback_pages")}), flush=True)
finally:
    with connection.connect(ADMIN, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
