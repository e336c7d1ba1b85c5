#!/bin/sh
# Run once by the postgres image when its volume is empty (docker-entrypoint-initdb.d):
# the application's role, which may read and write but owns nothing (docs/deploy.md).
# The owner role is POSTGRES_USER; it runs the migrations and deploy/grants.sql.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v app_password="$APP_DB_PASSWORD" <<'SQL'
CREATE ROLE coupons_app LOGIN PASSWORD :'app_password';
SQL
