# The skolsam image: Airflow 3 with the skolsam package, its DAGs, plugins, SQL and expectations.
FROM python:3.11-slim-bookworm

ENV PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    AIRFLOW_HOME=/opt/airflow \
    SKOLSAM_HOME=/opt/skolsam \
    SKOLSAM_SQL_DIR=/opt/skolsam-project/sql \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/skolsam-project/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/skolsam-project/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False

RUN useradd --create-home --uid 50000 airflow && mkdir -p /opt/airflow /opt/skolsam && chown airflow /opt/airflow /opt/skolsam
WORKDIR /opt/skolsam-project
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-deps -e .
COPY dags ./dags
COPY plugins ./plugins
COPY sql ./sql
COPY config ./config
COPY expectations ./expectations
USER airflow
