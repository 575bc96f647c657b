"""The skolsam Airflow plugin: the school-term timetable and the administrators' page.

Airflow only serializes (and the scheduler only deserializes) a custom timetable that a plugin
registers. The class lives in the installed package (skolsam.airflow.timetable) so DAG files, tests and
the scheduler import the same class; this file only registers it.

The administrators' page (skolsam.admin.app) is a FastAPI app mounted by the api-server at ``/skolsam``,
behind Airflow's own authentication, and linked from the UI's navigation ("Browse" → "skolsam") as an
external view, so it opens inside the Airflow UI.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from skolsam.airflow.timetable import SchoolTermTimetable


def _admin_apps() -> list[dict]:
    try:
        from skolsam.admin.app import URL_PREFIX, create_app
    except ImportError:  # FastAPI is part of Airflow 3; without it there is no api-server to mount on
        return []
    return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "skolsam administrators' page"}]


class SkolsamPlugin(AirflowPlugin):
    name = "skolsam"
    timetables = [SchoolTermTimetable]
    fastapi_apps = _admin_apps()
    external_views = [
        {
            "name": "skolsam",
            "href": "/skolsam/",
            "destination": "nav",
            "category": "browse",
            "url_route": "skolsam",
        }
    ]
