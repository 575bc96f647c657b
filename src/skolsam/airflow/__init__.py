"""What only Airflow needs: runtime config lookup, Assets, the SS 12000 hook, the timetable, provider info.

Nothing here is imported at DAG-parse time except ``assets`` (light: airflow.sdk only).
"""
