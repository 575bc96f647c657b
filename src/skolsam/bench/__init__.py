"""``skolsam bench``: the pipeline timed stage by stage against a plain COPY in the same run (DESIGN 7).

:mod:`.stages` the stages (child side, through ``skolsam.services``); :mod:`.worker` the preloaded worker
the task processes fork from (as from a Celery worker); :mod:`.harness` task processes,
peak RSS, the COPY baseline; :mod:`.pipeline` one run (and the daily run); :mod:`.growth` the run at
several sizes, its table and plot. Figures are printed, never asserted in tests.
"""

from .pipeline import BenchError, run_bench  # noqa: F401
