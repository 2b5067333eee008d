-- Creates the CDHT databases (the four services' and the portal's), owned by the
-- server's POSTGRES_USER.
-- The postgres image runs this once, when its data volume is empty (mounted
-- into /docker-entrypoint-initdb.d by docker-compose.yml). `python -m cdht_tools db
-- upgrade all` (the migrate step) also creates missing databases; this is belt
-- and braces. Safe to run again: existing databases are left alone.
-- Run by psql (it uses \gexec), e.g.:
--   docker compose exec -T postgres psql -U cdht -d postgres < deploy/postgres/init-databases.sql

SELECT format('CREATE DATABASE %I', name)
FROM unnest(ARRAY['cdht_registry', 'cdht_assessment', 'cdht_reporting', 'cdht_notifications',
                    'cdht_portal']) AS name
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = name)
\gexec
