-- Dated sales (issue #19): a deal's sale date, amount, stage and currency as columns of their own,
-- derived from its attributes by PostgreSQL itself (generated, so no writer can let them drift),
-- and the sale date indexed, so that crediting a quarter reads that quarter's deals only.
-- `sold_on` is the `date` attribute when it is a day (YYYY-MM-DD), otherwise NULL; a deal
-- without one is read by every period's credit, which lists it as not credited and why.
-- A text's cast to a date depends on the session's DateStyle, which a generated column may not:
-- the day is made from its parts, and a text that names no day (2026-02-30) gives NULL.
CREATE FUNCTION allot_day(t text) RETURNS date LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    IF t !~ '^\d{4}-\d{2}-\d{2}$' THEN
        RETURN NULL;
    END IF;
    RETURN make_date(substr(t, 1, 4)::int, substr(t, 6, 2)::int, substr(t, 9, 2)::int);
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;
ALTER TABLE deals
    ADD COLUMN sold_on DATE GENERATED ALWAYS AS (allot_day(attrs ->> 'date')) STORED,
    ADD COLUMN amount DOUBLE PRECISION GENERATED ALWAYS AS (
        CASE WHEN jsonb_typeof(attrs -> 'amount') = 'number' THEN (attrs ->> 'amount')::double precision END) STORED,
    ADD COLUMN stage TEXT GENERATED ALWAYS AS (
        CASE WHEN jsonb_typeof(attrs -> 'stage') = 'string' THEN attrs ->> 'stage' END) STORED,
    ADD COLUMN currency TEXT GENERATED ALWAYS AS (
        CASE WHEN jsonb_typeof(attrs -> 'currency') = 'string' THEN attrs ->> 'currency' END) STORED;
CREATE INDEX deals_by_date ON deals (sold_on, key);
