"""The analyst's sign-off of a report draft: Airflow's human-in-the-loop branch with Approve / Reject.

``ReportApprovalOperator`` is ``HITLBranchOperator`` (apache-airflow-providers-standard) with two options
mapped to the publish and reject tasks, and a ``comment`` form field. Before branching it pushes the answer
(option, comment, who, when) as the XCom ``decision``, so the chosen task records it beside the draft; the
branch's own return value carries only the task ids. On Airflow 3.3 the task waits in the ``awaiting_input``
state without holding a worker slot or a triggerer; the answer comes from the UI's Required Actions page or
``PATCH /api/v2/dags/{dag}/dagRuns/{run}/taskInstances/{task}/hitlDetails``.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.hitl import HITLBranchOperator
from airflow.sdk import Param
from airflow.sdk.definitions.param import ParamsDict

APPROVE = "Approve"
REJECT = "Reject"
DECISION_KEY = "decision"


class ReportApprovalOperator(HITLBranchOperator):
    def __init__(self, *, publish_task_id: str, reject_task_id: str, **kwargs) -> None:
        # The form's comment field. Added here rather than by setdefault: Airflow's apply_defaults has already
        # merged the DAG's params into kwargs, and the operator keeps only task-level ones (source="task").
        params = ParamsDict(kwargs.pop("params", None) or {})
        params["comment"] = Param("", type="string", title="Comment", source="task",
                                  description="Why you approve or reject (goes to the report's recipients; "
                                              "never name a pupil)")
        super().__init__(options=[APPROVE, REJECT], options_mapping={APPROVE: publish_task_id,
                                                                      REJECT: reject_task_id},
                         multiple=False, params=params, **kwargs)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        if "error" not in event:
            from skolsam.publication.signoff import decision_from_response

            context["ti"].xcom_push(key=DECISION_KEY, value=decision_from_response(
                event.get("chosen_options") or [], event.get("params_input"), event.get("responded_by_user"),
                event.get("responded_at")))
        return super().execute_complete(context=context, event=event)
