"""Provider metadata so Airflow lists the SS 12000 connection type (entry point in pyproject.toml)."""


def get_provider_info() -> dict:
    return {
        "package-name": "skolsam",
        "name": "skolsam",
        "description": "SS 12000 connection type and hook for the skolsam pipelines.",
        "versions": ["0.1.0"],
        "connection-types": [
            {"hook-class-name": "skolsam.airflow.ss12000_hook.SS12000Hook", "connection-type": "ss12000"}
        ],
    }
