#!/bin/bash
# Runs once, as the cluster superuser, when the compose PostgreSQL creates its data volume (and in
# tests/test_deploy_roles.py against a throwaway server). Creates:
#   airflow                  LOGIN, owner of database `airflow` (Airflow's metadata); not a superuser, may not
#                            create roles or databases: a stolen metadata password reaches nothing else.
#   skolsam_owner            NOLOGIN, owner of database `skolsam` (the warehouse) and of everything in it.
#   skolsam_loader / skolsam_analyst / skolsam_reader
#                            NOLOGIN group roles (DESIGN 4); sql/grants gives them their privileges.
#   skolsam_loader_login     the pipeline's login: member of skolsam_loader and of skolsam_owner, and every
#                            session in `skolsam` runs as skolsam_owner (SET role), because migrations, the
#                            build's constraint swaps, ANALYZE and the grants need the owner. Nobody logs in
#                            as the owner itself.
#   skolsam_analyst_login, skolsam_reader_login
#                            logins for people and tools: member of their group role only.
# Passwords come from the environment (docker-compose.yml requires each); none has a default here either.
set -euo pipefail
: "${AIRFLOW_DB_PASSWORD:?must be set}"
: "${WAREHOUSE_LOADER_PASSWORD:?must be set}"
: "${WAREHOUSE_ANALYST_PASSWORD:?must be set}"
: "${WAREHOUSE_READER_PASSWORD:?must be set}"

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
     -v airflow_pw="$AIRFLOW_DB_PASSWORD" \
     -v loader_pw="$WAREHOUSE_LOADER_PASSWORD" \
     -v analyst_pw="$WAREHOUSE_ANALYST_PASSWORD" \
     -v reader_pw="$WAREHOUSE_READER_PASSWORD" <<'SQL'
CREATE ROLE airflow LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'airflow_pw';
CREATE DATABASE airflow OWNER airflow;
REVOKE ALL ON DATABASE airflow FROM PUBLIC;

CREATE ROLE skolsam_owner NOLOGIN;
CREATE ROLE skolsam_loader NOLOGIN;
CREATE ROLE skolsam_analyst NOLOGIN;
CREATE ROLE skolsam_reader NOLOGIN;
CREATE DATABASE skolsam OWNER skolsam_owner;
REVOKE ALL ON DATABASE skolsam FROM PUBLIC;
GRANT CONNECT ON DATABASE skolsam TO skolsam_loader, skolsam_analyst, skolsam_reader;

CREATE ROLE skolsam_loader_login LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'loader_pw'
    IN ROLE skolsam_loader, skolsam_owner;
ALTER ROLE skolsam_loader_login IN DATABASE skolsam SET role = 'skolsam_owner';
CREATE ROLE skolsam_analyst_login LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'analyst_pw'
    IN ROLE skolsam_analyst;
CREATE ROLE skolsam_reader_login LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'reader_pw'
    IN ROLE skolsam_reader;
SQL

# The warehouse's public schema: nobody but the owner creates objects there.
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname skolsam <<'SQL'
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO skolsam_owner;
SQL
