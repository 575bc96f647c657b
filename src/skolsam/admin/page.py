"""The administrators' page as one self-contained HTML document (inline CSS, no script, no CDN)."""

from __future__ import annotations

from .status import Status

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>skolsam: pipeline status</title>
<style>
 body { font: 14px/1.45 system-ui, sans-serif; margin: 1.2rem 1.6rem; color: #1b1b1b; }
 h1 { font-size: 1.4rem; margin: 0 0 .3rem; } h2 { font-size: 1.1rem; margin: 1.6rem 0 .4rem; }
 table { border-collapse: collapse; min-width: 40rem; } th, td { border: 1px solid #d0d7de; padding: .25rem .5rem; text-align: left; }
 th { background: #f3f5f7; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
 .fail { background: #ffe5e5; color: #8a0000; font-weight: 600; } .warn { background: #fff4d6; color: #6b4b00; }
 .ok { color: #146c2e; } .muted { color: #5f6b76; } .err { background: #ffe5e5; padding: .5rem; }
</style></head><body>
<h1>skolsam: pipeline status</h1>
<p class="muted">Read-only. Counts and reason codes only. Quality checks and quarantine reasons are explained in the README.</p>
{% for e in s.errors %}<p class="err">{{ e }}</p>{% endfor %}

<h2>Quality gates (latest run of each), failing checks first</h2>
{% if data_docs %}<p><a href="data-docs/index.html">Data Docs</a> (all validations, per table)</p>{% endif %}
<table id="gates"><thead><tr><th>gate</th><th>status</th><th>table</th><th>check</th><th>severity</th><th>result</th><th>observed</th><th>checked</th></tr></thead><tbody>
{% for g in s.gates %}{% if not g.checks %}<tr><td>{{ g.gate }}</td><td>{{ g.status }}</td><td colspan="6" class="muted">no checks recorded</td></tr>{% endif %}
{% for c in g.checks %}<tr class="{{ 'fail' if not c.success and c.severity == 'critical' else ('warn' if not c.success else '') }}">
<td>{{ g.gate }}</td><td>{{ g.status }}</td><td>{% if data_docs %}<a href="data-docs/index.html#{{ c.suite }}">{{ c.table }}</a>{% else %}{{ c.table }}{% endif %}</td>
<td>{{ c.check }}</td><td>{{ c.severity }}</td><td>{{ 'passed' if c.success else ('FAILED' if c.severity == 'critical' else 'warning') }}</td><td>{{ c.observed or '' }}</td><td>{{ c.checked_at }}</td></tr>{% endfor %}{% endfor %}
</tbody></table>

<h2>Sources: last successful load and watermark</h2>
<table id="loads"><thead><tr><th>source</th><th>entity</th><th>last success</th><th>rows loaded</th><th>quarantined</th><th>watermark</th><th>latest run</th></tr></thead><tbody>
{% for l in s.loads %}<tr class="{{ 'fail' if l.last_status == 'failed' else '' }}"><td>{{ l.source }}</td><td>{{ l.entity }}</td><td>{{ l.last_success or 'never' }}</td>
<td class="n">{{ l.rows_loaded if l.rows_loaded is not none else '' }}</td><td class="n">{{ l.rows_quarantined if l.rows_quarantined is not none else '' }}</td><td>{{ l.watermark or '' }}</td><td>{{ l.last_status or '' }}</td></tr>
{% else %}<tr><td colspan="7" class="muted">nothing loaded yet</td></tr>{% endfor %}
</tbody></table>

<h2>Match rate of the enrollment lists</h2>
{% if s.match %}<table id="match"><tr><th>enrolled pupils</th><th>found in the education data</th><th>match rate</th><th>threshold</th><th></th></tr>
<tr class="{{ '' if s.match.ok else 'fail' }}"><td class="n">{{ s.match.enrolled }}</td><td class="n">{{ s.match.matched }}</td>
<td class="n">{{ '%.1f %%'|format(100 * s.match.rate) if s.match.rate is not none else 'n/a' }}</td><td class="n">{{ '%.1f %%'|format(100 * s.match.threshold) }}</td>
<td class="{{ 'ok' if s.match.ok else '' }}">{{ 'ok' if s.match.ok else 'BELOW THRESHOLD: the build does not publish' }}</td></tr></table>{% else %}<p class="muted">not available</p>{% endif %}

<h2>Quarantined records by reason (last {{ recent }} runs per source that quarantined anything)</h2>
<table id="quarantine"><thead><tr><th>source</th><th>reason code</th><th>records</th><th>runs</th><th>latest</th></tr></thead><tbody>
{% for q in s.quarantine %}<tr><td>{{ q.source }}</td><td>{{ q.reason_code }}</td><td class="n">{{ q.rows }}</td><td class="n">{{ q.runs }}</td><td>{{ q.last }}</td></tr>
{% else %}<tr><td colspan="5" class="muted">nothing quarantined</td></tr>{% endfor %}
</tbody></table>

<h2>Termly reports</h2>
{% if s.last_report %}<p id="last-report">Latest draft: <b>{{ s.last_report.term }}</b> ({{ s.last_report.created_at }}):
<b>{{ s.last_report.state }}</b>{% if s.last_report.decided_by %} by {{ s.last_report.decided_by }} at {{ s.last_report.decided_at }}{% endif %};
build {{ s.last_report.build_id or 'unknown' }}, quality {{ s.last_report.gate_status }}; <code>{{ s.last_report.location }}</code></p>
{% else %}<p class="muted">no report drafted yet</p>{% endif %}
<table id="published"><thead><tr><th>term</th><th>published</th><th>build</th><th>quality</th><th>approved by</th><th>earlier versions</th><th>location</th></tr></thead><tbody>
{% for p in s.published %}<tr><td>{{ p.term }}</td><td>{{ p.published_at }}</td><td>{{ p.build_id or '' }}</td><td>{{ p.gate_status }}</td>
<td>{{ p.approved_by or '(approval skipped)' }}</td><td class="n">{{ p.earlier }}</td><td><code>{{ p.location }}</code></td></tr>
{% else %}<tr><td colspan="7" class="muted">no term published yet</td></tr>{% endfor %}
</tbody></table>
</body></html>
"""


def render(status: Status, *, data_docs: bool = False) -> str:
    import jinja2

    from .status import RECENT_RUNS

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(TEMPLATE).render(s=status, data_docs=data_docs, recent=RECENT_RUNS)
