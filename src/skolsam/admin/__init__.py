"""The administrators' page inside the Airflow UI (registered by plugins/skolsam_plugin.py): ``status``
(read-only queries of the audit trail and the report store), ``page`` (the HTML), ``app`` (the FastAPI app)."""
