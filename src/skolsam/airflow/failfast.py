"""Fail fast on deterministic failures, retry transient ones: skolsam's Airflow retry policy.

Airflow 3.3 asks a task's ``retry_policy`` what to do with the exception that failed it (in the worker, with
the exception object itself). ``SkolsamRetryPolicy`` answers from ``skolsam.errors.classify``:

* deterministic (a failed critical quality check, a too-low match rate, refused SS 12000 credentials, a
  changed applied migration, a schema not migrated, a missing Connection in production): FAIL now, no
  retries, so the alert goes out at once instead of after the retries' delays;
* transient (a lost or refused database connection, SS 12000 429/5xx or network trouble after the client's
  own retries, staging locked by a running load) and unknown: Airflow's standard retries, with the
  exponential backoff set in ``skolsam.airflow.defaults``.

Every skolsam task gets it through ``default_args``. Light: imports only airflow.sdk at parse time.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.definitions.retry_policy import RetryDecision, RetryPolicy

from skolsam.errors import DETERMINISTIC, classify


class SkolsamRetryPolicy(RetryPolicy):
    def evaluate(self, exception: BaseException, try_number: int, max_tries: int, context=None) -> RetryDecision:
        kind = classify(exception)
        if kind == DETERMINISTIC:
            return RetryDecision.fail(reason=f"{type(exception).__name__} is deterministic: not retried")
        return RetryDecision.default()

    def serialize(self) -> dict[str, Any]:
        return {"__type": "SkolsamRetryPolicy"}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> "SkolsamRetryPolicy":
        return cls()

    def __eq__(self, other: object) -> bool:  # DAG comparisons (serialisation round trips) see one policy
        return isinstance(other, SkolsamRetryPolicy)

    def __hash__(self) -> int:
        return hash(SkolsamRetryPolicy)
