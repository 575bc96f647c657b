#!/bin/bash
# Runs once when the compose PostgreSQL is created: the warehouse database and its login role.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v pw="${WAREHOUSE_PASSWORD:-skolsam}" <<'SQL'
CREATE ROLE skolsam_loader_login LOGIN PASSWORD :'pw';
CREATE DATABASE skolsam OWNER skolsam_loader_login;
SQL
