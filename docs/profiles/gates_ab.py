"""One staging gate and one mart gate on a bench warehouse; prints seconds and statement counts as JSON.

Alternate it between two checkouts with PYTHONPATH=<checkout>/src; the suites are read from
<checkout>/expectations, so an exported src needs that folder beside it (gates_count_only.md)."""
import json, sys, time
from sqlalchemy import event
from sqlalchemy.engine import Engine
n = [0]
event.listen(Engine, "before_cursor_execute", lambda *a: n.__setitem__(0, n[0] + 1))
from skolsam.settings import Settings
import skolsam.quality.gate as g
url = sys.argv[1]; s = Settings.load(); out = {"code": g.__file__.split("/src/")[0]}
for name, fn in (("staging", lambda: g.staging_gate(url, settings=s)), ("mart", lambda: g.mart_gate(url, "mart_candidate", settings=s))):
    n[0] = 0; t = time.perf_counter(); r = fn()
    out[name] = {"seconds": round(time.perf_counter() - t, 2), "validation": round(sum(r.suite_seconds.values()), 2),
                 "statements": n[0], "checks": len(r.checks), "passed": r.passed}
print(json.dumps(out))
