"""Data quality: Great Expectations suites (``expectations/``) run as gates on the warehouse.

``skolsam.quality.gate`` holds the gates (``run_gate``, ``staging_gate``, ``mart_gate``, ``QualityGateFailed``);
importing it loads Great Expectations lazily, inside a gate call. ``suites`` reads and fills in the suite
files, ``results`` records checks in audit.dq_result, ``docs`` builds the Data Docs, ``privacy`` keeps keys
and personnummer out of both.
"""

from __future__ import annotations

__all__ = ["GateResult", "QualityGateFailed", "mart_gate", "run_gate", "staging_gate"]


def __getattr__(name: str):
    if name in __all__:
        from . import gate

        return getattr(gate, name)
    raise AttributeError(name)
