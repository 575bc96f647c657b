"""A count-only variant of GX's custom-query check, used by the gate to validate ``unexpected_rows_expectation``.

GX 1.x's ``UnexpectedRowsExpectation`` depends on two metrics: ``unexpected_rows_query.table`` (the query's
rows, up to 200 of them) and ``unexpected_rows_query.row_count`` (``SELECT COUNT(*)`` over the query). Under
the SUMMARY and BASIC result formats, the only ones the gate uses, the rows are fetched and then dropped:
the result holds the count alone. A ``LIMIT`` that no row satisfies still reads every row the query reads,
so each custom check cost two full executions of its query on a table that passes (issue 15: at city scale
the staging grade suite's ``one_counting_grade`` hash aggregate took 2.9 s + 2.5 s).

``UnexpectedRowsCountExpectation`` is the same expectation (same kwargs, same success rule, same result)
that asks GX for the count only. The suites in ``expectations/`` keep the GX type: the gate swaps the type
in for validation (``for_validation``) and puts the suite's type back on each result (``as_written``), so
Data Docs, audit.dq_result and every reader see the check exactly as it is written.
"""

from __future__ import annotations

from typing import Any, ClassVar, Tuple

from great_expectations.core.result_format import ResultFormat
from great_expectations.expectations.core.unexpected_rows_expectation import UnexpectedRowsExpectation
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

WRITTEN_TYPE = "unexpected_rows_expectation"


class UnexpectedRowsCountExpectation(UnexpectedRowsExpectation):
    """``unexpected_rows_expectation`` computing only ``unexpected_rows_query.row_count`` (one query)."""

    metric_dependencies: ClassVar[Tuple[str, ...]] = ("unexpected_rows_query.row_count",)

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None, execution_engine=None):
        result_format = self._get_result_format(runtime_configuration=runtime_configuration)
        if isinstance(result_format, dict):
            result_format = result_format.get("result_format", ResultFormat.SUMMARY)
        if result_format == ResultFormat.COMPLETE:
            # COMPLETE returns the rows themselves; this variant never fetches them.
            raise ValueError("the count-only custom query check cannot return rows (result format COMPLETE)")
        count = metrics["unexpected_rows_query.row_count"]
        if result_format == ResultFormat.BOOLEAN_ONLY:
            return {"success": count == 0}
        return {"success": count == 0, "result": {"observed_value": count}}


COUNT_ONLY_TYPE = UnexpectedRowsCountExpectation.expectation_type  # "unexpected_rows_count_expectation"


def for_validation(expectations: list[dict]) -> list[dict]:
    """The expectations with every custom-query check switched to the count-only type (copies; the input
    is left as it is)."""
    return [{**e, "type": COUNT_ONLY_TYPE} if e["type"] == WRITTEN_TYPE else e for e in expectations]


def as_written(result: Any) -> None:
    """Give a count-only result the suite's own type again (in place), keeping everything else."""
    cfg = result.expectation_config
    if cfg is None or cfg.type != COUNT_ONLY_TYPE:
        return
    result.expectation_config = ExpectationConfiguration(
        type=WRITTEN_TYPE, kwargs=cfg.kwargs, meta=cfg.meta, notes=cfg.notes, description=cfg.description,
        severity=cfg.severity, success_on_last_run=cfg.success_on_last_run, id=cfg.id,
        expectation_context=cfg.expectation_context, rendered_content=cfg.rendered_content,
    )
