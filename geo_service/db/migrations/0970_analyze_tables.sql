-- The service connects as a role that owns no table (geo_service.db.roles), and only a table's owner may
-- ANALYZE it. After a bulk load the planner still needs fresh statistics: this function, owned by the schema
-- owner, analyses the named tables of this schema and nothing else. EXECUTE is granted to the runtime role
-- only (geo_service.db.roles.grant_runtime).
CREATE FUNCTION analyze_tables(names text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY names LOOP
        IF to_regclass(format('public.%I', name)) IS NULL THEN
            RAISE EXCEPTION 'no table % in this schema', name USING ERRCODE = 'undefined_table';
        END IF;
        EXECUTE format('ANALYZE public.%I', name);
    END LOOP;
END $$;

REVOKE ALL ON FUNCTION analyze_tables(text[]) FROM PUBLIC;
