-- Dated sales (issue #19): a deal's sale date, amount, stage and currency as columns of their own,
-- derived from its attributes by SQLite itself (generated, so no writer can let them drift), and
-- the sale date indexed, so that crediting a quarter reads that quarter's deals only.
-- `sold_on` is the `date` attribute when it is a day (YYYY-MM-DD), otherwise NULL; a deal
-- without one is read by every period's credit, which lists it as not credited and why.
ALTER TABLE deals ADD COLUMN sold_on TEXT GENERATED ALWAYS AS (
    CASE WHEN json_extract(attrs, '$.date') GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'
         THEN json_extract(attrs, '$.date') END) VIRTUAL;
ALTER TABLE deals ADD COLUMN amount REAL GENERATED ALWAYS AS (
    CASE WHEN json_type(attrs, '$.amount') IN ('integer', 'real') THEN json_extract(attrs, '$.amount') END) VIRTUAL;
ALTER TABLE deals ADD COLUMN stage TEXT GENERATED ALWAYS AS (
    CASE WHEN json_type(attrs, '$.stage') = 'text' THEN json_extract(attrs, '$.stage') END) VIRTUAL;
ALTER TABLE deals ADD COLUMN currency TEXT GENERATED ALWAYS AS (
    CASE WHEN json_type(attrs, '$.currency') = 'text' THEN json_extract(attrs, '$.currency') END) VIRTUAL;
CREATE INDEX deals_by_date ON deals (sold_on, key);
