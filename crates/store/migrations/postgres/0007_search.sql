-- A text index over `clients.find` (issue #17 §7): a search of an employee's clients first asks
-- this index which clients hold the text anywhere in the store, then reads the employee's links
-- to those clients (`links_by_client`), instead of reading the `find` of every client the
-- employee holds (140,000 look-ups for a big book, whatever the text).
--
-- A GIN index of trigrams (`pg_trgm`, shipped with PostgreSQL's contrib modules; trusted since
-- PostgreSQL 13, so a database owner may create it). It is made in the schema `public`, where
-- every schema's index can name it. Where the extension is not there or may not be created, the
-- store works as before (a search reads each held client): a notice says so, and the index can
-- be added later by hand (docs/store.md).
DO $$
DECLARE
    trgm_schema name;
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
    SELECT n.nspname INTO trgm_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
    EXECUTE format('CREATE INDEX clients_text ON clients USING gin (find %I.gin_trgm_ops)', trgm_schema);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'allot: no trigram index for the search (%): a search reads each held client', SQLERRM;
END $$;
