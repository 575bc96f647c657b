"""The skolsam Airflow plugin: registers the school-term timetable.

Airflow only serializes (and the scheduler only deserializes) a custom timetable that a plugin
registers. The class lives in the installed package (skolsam.airflow.timetable) so DAG files, tests and
the scheduler import the same class; this file only registers it.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from skolsam.airflow.timetable import SchoolTermTimetable


class SkolsamPlugin(AirflowPlugin):
    name = "skolsam"
    timetables = [SchoolTermTimetable]
