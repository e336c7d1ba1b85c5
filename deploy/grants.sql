-- What the application's role (coupons_app) may do, applied by the owner role after every
-- `manage.py migrate` (compose.yaml's migrate service; docs/deploy.md). Idempotent.
-- The owner role owns the tables and runs the migrations; the application's role reads and
-- writes rows, never changes the schema, and never changes or deletes the access log.
GRANT CONNECT ON DATABASE coupons TO coupons_app;
GRANT USAGE ON SCHEMA public TO coupons_app;
REVOKE CREATE ON SCHEMA public FROM coupons_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO coupons_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO coupons_app;
-- The access log is append-only: read and add, nothing else (the trigger of migration
-- beneficiaires 0005 refuses UPDATE and DELETE from anyone, as a second line).
REVOKE UPDATE, DELETE, TRUNCATE ON beneficiaires_auditentry FROM coupons_app;
