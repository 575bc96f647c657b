"""The report's HTML (Jinja2, autoescaped). Kept in a module so it ships with the package."""

from __future__ import annotations

TEMPLATE = r"""<!DOCTYPE html>
<html lang="sv">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="skolsam {{ version }}">
<title>{{ m.title }}</title>
<style>
  :root { --blue: #1f4e79; --grey: #a5a5a5; --line: #d9d9d9; --text: #222; --muted: #595959; }
  * { box-sizing: border-box; }
  body { margin: 0; background: #f4f5f7; color: var(--text);
         font: 16px/1.5 "Segoe UI", "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; }
  main { max-width: 980px; margin: 0 auto; background: #fff; padding: 2.5rem 3rem 3rem; }
  header { border-bottom: 4px solid var(--blue); padding-bottom: 1rem; margin-bottom: 1.5rem; }
  h1 { font-size: 1.75rem; line-height: 1.25; margin: 0 0 .4rem; color: var(--blue); }
  h2 { font-size: 1.3rem; margin: 2.4rem 0 .6rem; color: var(--blue); border-bottom: 1px solid var(--line);
       padding-bottom: .25rem; }
  h3 { font-size: 1.05rem; margin: 1.6rem 0 .4rem; }
  .meta { color: var(--muted); font-size: .9rem; margin: 0; }
  .summary { background: #eef3f8; border-left: 4px solid var(--blue); padding: 1rem 1.25rem; }
  .summary p { margin: 0; }
  table { border-collapse: collapse; width: 100%; font-size: .88rem; margin: .3rem 0 .3rem;
          font-variant-numeric: tabular-nums; }
  caption { text-align: left; font-weight: 600; padding: .3rem 0; font-size: .95rem; }
  th, td { padding: .32rem .5rem; border-bottom: 1px solid var(--line); vertical-align: bottom; }
  thead th { background: #f2f2f2; font-weight: 600; text-align: right; border-bottom: 2px solid #bfbfbf; }
  thead th:first-child { text-align: left; }
  thead th[colspan] { text-align: center; }
  td.num, td.supp, td.miss, td.blank { text-align: right; white-space: nowrap; }
  td.supp, td.miss { color: var(--muted); }
  th.label { text-align: left; font-weight: normal; min-width: 8.5em; }
  tbody tr:nth-child(even) { background: #fafafa; }
  .note { font-size: .8rem; color: var(--muted); margin: .2rem 0 1rem; }
  figure { margin: 1.2rem 0 1.6rem; }
  figure img { width: 100%; height: auto; display: block; }
  figcaption { font-size: .85rem; color: var(--muted); margin-top: .3rem; }
  figcaption strong { color: var(--text); }
  dl { margin: 0; }
  dt { font-weight: 600; margin-top: .8rem; }
  dd { margin: .15rem 0 0; }
  footer { margin-top: 2.5rem; font-size: .8rem; color: var(--muted); border-top: 1px solid var(--line);
           padding-top: .6rem; }
  @media print { body { background: #fff; } main { padding: 0; max-width: none; }
                 figure, table { break-inside: avoid; } }
</style>
</head>
<body>
<main>
<header>
  <h1>{{ m.title }}</h1>
  <p class="meta">Terminsuppföljning av skola och socialtjänst i samverkan ·
    {{ term_long }}{% if m.term_dates %} ({{ m.term_dates[0] }} – {{ m.term_dates[1] }}){% endif %} ·
    sammanställd {{ made_on }}</p>
</header>

<section class="summary" aria-label="Sammanfattning">
  <h2 style="margin-top:0;border:0">Sammanfattning</h2>
  <p>{{ summary | join(" ") }}</p>
</section>

{% macro render_table(t) -%}
<table>
  <caption>{{ t.caption }}</caption>
  <thead>
  {%- for hrow in t.head %}
    <tr>{% for h in hrow %}<th scope="col"{% if h.get("colspan") %} colspan="{{ h.colspan }}"{% endif %}{% if h.get("rowspan") %} rowspan="{{ h.rowspan }}"{% endif %}>{{ h.text }}</th>{% endfor %}</tr>
  {%- endfor %}
  </thead>
  <tbody>
  {%- for row in t.body %}
    <tr>{% for c in row %}{% if c.cls == "label" %}<th scope="row" class="label">{{ c.text }}</th>{% else %}<td class="{{ c.cls }}">{{ c.text }}</td>{% endif %}{% endfor %}</tr>
  {%- endfor %}
  </tbody>
</table>
{%- if t.note %}<p class="note">{{ t.note }}</p>{% endif %}
{%- if "supp" in t.flags or "miss" in t.flags %}<p class="note">{{ m.suppression_note }}</p>{% endif %}
{%- endmacro %}

{% macro render_chart(c) -%}
<figure>
  <img src="data:image/png;base64,{{ c.png }}" alt="{{ c.spec.alt }}">
  <figcaption><strong>{{ c.spec.title }}.</strong>{% if c.spec.note %} {{ c.spec.note }}{% endif %}</figcaption>
</figure>
{%- endmacro %}

<h2>Resultat per insats</h2>
<p>Tabellerna jämför deltagarna med jämförelsegruppen, det vill säga elever i samma skolor och årskurser
som inte deltar i någon insats. Sista kolumnen visar deltagarna föregående termin ({{ m.prev }})
{%- if not m.has_prev %}, som inte finns i underlaget{% endif %}.</p>
{% for t in programme_tables %}{{ render_table(t) }}{% endfor %}

<h2>Godkända ämnen och frånvaro</h2>
{% for c in charts_main %}{{ render_chart(c) }}{% endfor %}

<h2>Förändring sedan {{ m.prev }}</h2>
{% if m.has_prev %}
{{ render_table(change_table) }}
{% if chart_change %}{{ render_chart(chart_change) }}{% endif %}
{% else %}
<p>Underlaget innehåller inga uppgifter för {{ prev_long }} ({{ m.prev }}), så förändringen sedan föregående
termin kan inte visas.</p>
{% endif %}

<h2>Per stadsdelsförvaltning</h2>
<p>Alla insatser tillsammans, efter elevens stadsdelsförvaltning enligt dagens indelning.
Stadsdelsförvaltningar utan deltagare under terminen saknas.</p>
{{ render_table(district_table) }}
{% if chart_districts %}{{ render_chart(chart_districts) }}{% else %}
<p class="note">Inget diagram: uppgifterna för samtliga stadsdelsförvaltningar är dolda.</p>{% endif %}

<h2>Per årskurs och kön</h2>
{{ render_table(year_sex_table) }}

<h2>Om uppföljningen</h2>
<p>Rapporten följer upp elever i årskurs 6–9 som deltar i PPSS, SkolFam eller KP/KF, termin för termin.
Den visar hur det går för deltagarna i skolan jämfört med andra elever i samma skolor. Den visar inte
vilken effekt insatserna har: deltagarna har ofta större svårigheter redan innan de börjar.</p>
<dl>
{% for term_, text in definitions %}  <dt>{{ term_ }}</dt><dd>{{ text }}</dd>
{% endfor %}</dl>

<footer>Framställd av skolsam {{ version }} ur sammanräknade uppgifter (mart.group_term) {{ made_on }}.
{% if provenance %}<p class="provenance">Bygge {{ provenance.build_id }} · kvalitetskontroll {{ provenance.gate_status }}
  · publicerat i lagret {{ provenance.published_at }}</p>{% endif %}</footer>
</main>
</body>
</html>
"""
