"""Profile staging_gate then mart_gate on a bench warehouse (pyinstrument + every SQL statement timed).

Usage: SKOLSAM_HOME=... python docs/profiles/gates_profile.py <warehouse URL> <output file>. See gates_count_only.md."""
import sys, time, collections
from pyinstrument import Profiler
from sqlalchemy import event
from sqlalchemy.engine import Engine

url = sys.argv[1]; out = sys.argv[2]
stmts = []
def before(conn, cursor, statement, params, context, many):
    conn.info.setdefault("t0", []).append(time.perf_counter())
def after(conn, cursor, statement, params, context, many):
    stmts.append((time.perf_counter() - conn.info["t0"].pop(), statement))
event.listen(Engine, "before_cursor_execute", before)
event.listen(Engine, "after_cursor_execute", after)

from skolsam.settings import Settings
settings = Settings.load()
t = time.perf_counter()
from skolsam.quality.gate import staging_gate, mart_gate
imp = time.perf_counter() - t
prof = Profiler(interval=0.005); prof.start()
res = {}
for name, fn in (("staging", lambda: staging_gate(url, settings=settings)),
                 ("mart", lambda: mart_gate(url, "mart_candidate", settings=settings))):
    n0 = len(stmts); t = time.perf_counter()
    r = fn()
    res[name] = (time.perf_counter() - t, r, stmts[n0:])
prof.stop()
with open(out, "w") as f:
    f.write(f"import of skolsam.quality.gate {imp:.2f}s\n")
    for name, (secs, r, ss) in res.items():
        f.write(f"\n== {name} gate {secs:.2f}s, checks {len(r.checks)}, passed {r.passed}\n")
        f.write("suite seconds " + str({k: round(v, 2) for k, v in r.suite_seconds.items()}) + "\n")
        f.write(f"SQL statements: {len(ss)}, total {sum(s for s, _ in ss):.2f}s\n")
        pre, post = "SELECT COUNT(*) as unexpected_row_count FROM (", ") AS substituted_batch_subquery"
        norm = [(s, " ".join(q.split())) for s, q in ss]
        inner = {q[len(pre):-len(post)] for _, q in norm if q.startswith(pre) and q.endswith(post)}
        kinds = collections.Counter(); n = collections.Counter()
        for s, q in norm:
            k = ("custom query, COUNT" if q.startswith(pre) else "custom query, rows" if q in inner else "other")
            kinds[k] += s; n[k] += 1
        f.write("by kind: " + "; ".join(f"{k}: {n[k]} statements {v:.2f}s" for k, v in kinds.items()) + "\n")
        for s, q in sorted(ss, reverse=True)[:25]:
            f.write(f"  {s:6.3f}  {' '.join(q.split())[:300]}\n")
    f.write("\n")
    f.write(prof.output_text(unicode=False, color=False, show_all=False))
