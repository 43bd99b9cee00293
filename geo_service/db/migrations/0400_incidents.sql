-- Incidents: intake source, owner chain, closed-loop bookkeeping, and search indexes for the geocoder.

ALTER TABLE incidents
    ADD COLUMN source            text NOT NULL DEFAULT 'api',   -- api, import, open311, demo
    ADD COLUMN created_by        text,
    ADD COLUMN media_url         text,
    ADD COLUMN attributes        jsonb NOT NULL DEFAULT '{}',   -- Open311 attribute[...], component ids, ...
    ADD COLUMN geocode           jsonb,                         -- how an address-only incident was placed
    -- the owner chain at intake, copied out of area_snapshot so stats and filters can use plain indexes
    ADD COLUMN community_code    text,
    ADD COLUMN street_code       text,
    ADD COLUMN district_code     text,
    ADD COLUMN escalations       integer NOT NULL DEFAULT 0,
    ADD COLUMN top_overdue_at    timestamptz,                   -- the top level missed its deadline too
    ADD COLUMN assignment_confirmed_by text,
    ADD COLUMN assignment_confirmed_at timestamptz,
    ADD CONSTRAINT incidents_status_known CHECK (status IN (
        'reported', 'filed', 'dispatched', 'in_progress', 'resolved', 'verified', 'closed', 'rejected', 'escalated')),
    ADD CONSTRAINT incidents_owner_level_known CHECK (
        owner_level IS NULL OR owner_level IN ('grid', 'community', 'street', 'district')),
    ADD CONSTRAINT incidents_source_known CHECK (source IN ('api', 'import', 'open311', 'demo'));

CREATE INDEX incidents_community ON incidents (community_code);
CREATE INDEX incidents_street ON incidents (street_code);
-- the escalation sweep reads only incidents that are still being handled
CREATE INDEX incidents_due_open ON incidents (due_at)
    WHERE status IN ('reported', 'filed', 'dispatched', 'in_progress', 'escalated');

-- The geocoder searches names in these tables too (the gazetteer already has its index).
CREATE INDEX IF NOT EXISTS facilities_name_trgm ON facilities USING gin (name gin_trgm_ops);
CREATE INDEX IF NOT EXISTS stations_name_trgm ON stations USING gin (name gin_trgm_ops);
CREATE INDEX IF NOT EXISTS areas_current_name_trgm ON areas USING gin (name gin_trgm_ops) WHERE valid_to IS NULL;

-- Incident numbers per current area of the given levels, for the map (the tile layer incident_stats reads it).
-- An incident counts for the areas it was assigned to at intake (its snapshot, copied into the code columns),
-- so a later boundary edit does not move it. A function rather than a view: it takes the levels a zoom shows.
CREATE FUNCTION incident_area_stats(levels text[] DEFAULT ARRAY['district', 'street', 'community', 'grid'])
RETURNS TABLE (id bigint, level text, code text, name text, total bigint, open bigint, resolved bigint,
               rejected bigint, overdue bigint, resolution_rate numeric, median_hours_to_close numeric,
               geom geometry(MultiPolygon, 4326))
LANGUAGE sql STABLE PARALLEL SAFE AS $$
WITH assigned AS (
    SELECT 'grid' AS level, grid_code AS code, status, due_at, created_at, closed_at
    FROM incidents WHERE 'grid' = ANY(levels) AND grid_code IS NOT NULL
    UNION ALL
    SELECT 'community', community_code, status, due_at, created_at, closed_at
    FROM incidents WHERE 'community' = ANY(levels) AND community_code IS NOT NULL
    UNION ALL
    SELECT 'street', street_code, status, due_at, created_at, closed_at
    FROM incidents WHERE 'street' = ANY(levels) AND street_code IS NOT NULL
    UNION ALL
    SELECT 'district', district_code, status, due_at, created_at, closed_at
    FROM incidents WHERE 'district' = ANY(levels) AND district_code IS NOT NULL
), counted AS (
    SELECT level, code,
           count(*)                                                                   AS total,
           count(*) FILTER (WHERE status NOT IN ('resolved', 'verified', 'closed', 'rejected')) AS open,
           count(*) FILTER (WHERE status IN ('resolved', 'verified', 'closed'))        AS resolved,
           count(*) FILTER (WHERE status = 'rejected')                                AS rejected,
           count(*) FILTER (WHERE status IN ('reported', 'filed', 'dispatched', 'in_progress', 'escalated')
                            AND due_at < now())                                       AS overdue,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - created_at) / 3600.0)
               FILTER (WHERE closed_at IS NOT NULL)                                   AS median_hours_to_close
    FROM assigned GROUP BY level, code
)
SELECT a.id, a.level, a.code, a.name,
       coalesce(c.total, 0), coalesce(c.open, 0), coalesce(c.resolved, 0), coalesce(c.rejected, 0),
       coalesce(c.overdue, 0),
       CASE WHEN c.total - c.rejected > 0 THEN round(c.resolved::numeric / (c.total - c.rejected), 4) END,
       round(c.median_hours_to_close::numeric, 2),
       a.geom
FROM areas a LEFT JOIN counted c ON c.level = a.level AND c.code = a.code
WHERE a.valid_to IS NULL AND a.level = ANY(levels)
$$;
