"""Programme effects (DESIGN 5, ``mart.programme_effect``): does a programme help?

Coordinators choose pupils at a bad term, so the change from that term partly is a rebound that would have
come anyway (regression to the mean). The headline estimator therefore compares the change from the term
*before* the choice (baseline g−2, g the start term) to an event term g+e with the change of comparison
pupils in the same school unit and school year, cell by cell, weighted by participants and pooled over
cohorts; ``did_prev_term`` (baseline g−1) sits beside it as an upper bound.

* ``estimator``: the arithmetic on cell sums (estimate, clustered and jackknife standard errors, t(G−1)
  interval, verdict), numpy only.
* ``panel``: the pupils' outcomes, cells and programme terms read from the core tables, and the cells of
  every (estimator, event term, outcome, cohort).
* ``mart``: the rows of ``mart_candidate.programme_effect`` for the build's terms, suppression included;
  the build (``skolsam.warehouse.build.prepare``) calls ``write_programme_effects``.
* ``check``: ``skolsam effects-check``, bias and coverage of the interval over seeds of a generated city
  with a planted effect (``skolsam generate --effect``).
"""
