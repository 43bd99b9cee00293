-- The leaders' dashboard: a daily aggregate of the loop's counts that follows every write to incidents, so a
-- year of a district (a million incidents) is read from a few hundred thousand small rows instead of the
-- incidents themselves. Counts that depend on "now" (overdue, past due) are read live from incidents_due_open.

-- 转办: first sent to a handler (dispatched, or taken in hand straight from an escalation). Set by the trigger
-- below from the write's own updated_at (the service clock), never from the database's clock.
ALTER TABLE incidents ADD COLUMN dispatched_at timestamptz;
UPDATE incidents i SET dispatched_at = h.at
FROM (SELECT incident_id, min(at) AS at FROM incident_history
      WHERE to_status IN ('dispatched', 'in_progress') GROUP BY incident_id) h
WHERE h.incident_id = i.id;

CREATE FUNCTION incidents_mark_dispatched() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.dispatched_at IS NULL
       AND NEW.status IN ('dispatched', 'in_progress', 'resolved', 'verified', 'closed') THEN
        NEW.dispatched_at := coalesce(NEW.updated_at, NEW.created_at);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER incidents_mark_dispatched BEFORE INSERT OR UPDATE OF status ON incidents
    FOR EACH ROW EXECUTE FUNCTION incidents_mark_dispatched();

-- The dashboard lists the open cases that were escalated: few among a year of closed ones.
CREATE INDEX incidents_open_escalated ON incidents (created_at)
    WHERE merged_into IS NULL AND escalations > 0
      AND status IN ('reported', 'filed', 'dispatched', 'in_progress', 'escalated');

-- The zone whose calendar days the aggregate counts in (the service's zone; the service rebuilds the
-- aggregate when it is started with another one).
CREATE TABLE incident_daily_zone (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    zone      text NOT NULL
);
INSERT INTO incident_daily_zone (zone) VALUES ('Asia/Shanghai');

-- One row per local day of intake and area snapshot ('' where the incident has no such area). Every count is
-- of incidents as they are now; a case is an incident neither rejected nor merged into another (as in the
-- rates, geo_service/incidents/rates.py).
CREATE TABLE incident_daily (
    day               date NOT NULL,
    grid_code         text NOT NULL,
    community_code    text NOT NULL,
    street_code       text NOT NULL,
    district_code     text NOT NULL,
    incidents         integer NOT NULL DEFAULT 0,  -- 上报: every incident, duplicates and rejected ones too
    cases             integer NOT NULL DEFAULT 0,
    rejected          integer NOT NULL DEFAULT 0,
    accepted          integer NOT NULL DEFAULT 0,  -- 受理: cases past 'reported'
    transferred       integer NOT NULL DEFAULT 0,  -- 转办: cases sent to a handler at least once
    resolved          integer NOT NULL DEFAULT 0,  -- 办结: cases resolved, verified or closed
    on_time           integer NOT NULL DEFAULT 0,  -- resolved and never missed a deadline
    missed_open       integer NOT NULL DEFAULT 0,  -- not resolved and missed a deadline already
    escalated         integer NOT NULL DEFAULT 0,  -- cases escalated at least once
    settled_grid      integer NOT NULL DEFAULT 0,
    settled_community integer NOT NULL DEFAULT 0,
    settled_street    integer NOT NULL DEFAULT 0,
    settled_district  integer NOT NULL DEFAULT 0,
    PRIMARY KEY (grid_code, community_code, street_code, district_code, day)
) WITH (fillfactor = 70);  -- room on each page for the counts' updates to stay HOT (no index writes)
CREATE INDEX incident_daily_community ON incident_daily (community_code, day);
CREATE INDEX incident_daily_street ON incident_daily (street_code, day);
CREATE INDEX incident_daily_district ON incident_daily (district_code, day);

-- What the aggregate reads of an incident (a narrow row: the statement triggers pass arrays of them).
CREATE TYPE incident_daily_input AS (
    created_at timestamptz, grid_code text, community_code text, street_code text, district_code text,
    status text, merged_into bigint, missed_deadline boolean, escalations integer, settled_level text,
    dispatched_at timestamptz);

-- Add the rows `added` and take away the rows `removed` (the old and new versions of a statement's rows).
CREATE FUNCTION incident_daily_apply(removed incident_daily_input[], added incident_daily_input[]) RETURNS void
LANGUAGE sql AS $$
    WITH changes AS (
        SELECT -1 AS sign, r.* FROM unnest(removed) r
        UNION ALL
        SELECT 1 AS sign, a.* FROM unnest(added) a),
    flagged AS (
        SELECT sign, (created_at AT TIME ZONE (SELECT zone FROM incident_daily_zone))::date AS day,
               coalesce(grid_code, '') AS grid_code, coalesce(community_code, '') AS community_code,
               coalesce(street_code, '') AS street_code, coalesce(district_code, '') AS district_code,
               status, missed_deadline, escalations, settled_level, dispatched_at,
               merged_into IS NULL AND status <> 'rejected' AS is_case,
               status IN ('resolved', 'verified', 'closed') AS done
        FROM changes),
    delta AS (
        SELECT day, grid_code, community_code, street_code, district_code,
               sum(sign)::integer AS incidents,
               sum(sign * is_case::integer)::integer AS cases,
               sum(sign * (status = 'rejected')::integer)::integer AS rejected,
               sum(sign * (is_case AND status <> 'reported')::integer)::integer AS accepted,
               sum(sign * (is_case AND dispatched_at IS NOT NULL)::integer)::integer AS transferred,
               sum(sign * (is_case AND done)::integer)::integer AS resolved,
               sum(sign * (is_case AND done AND NOT missed_deadline)::integer)::integer AS on_time,
               sum(sign * (is_case AND NOT done AND missed_deadline)::integer)::integer AS missed_open,
               sum(sign * (is_case AND escalations > 0)::integer)::integer AS escalated,
               sum(sign * (is_case AND done AND settled_level = 'grid')::integer)::integer AS settled_grid,
               sum(sign * (is_case AND done AND settled_level = 'community')::integer)::integer AS settled_community,
               sum(sign * (is_case AND done AND settled_level = 'street')::integer)::integer AS settled_street,
               sum(sign * (is_case AND done AND settled_level = 'district')::integer)::integer AS settled_district
        FROM flagged GROUP BY day, grid_code, community_code, street_code, district_code)
    INSERT INTO incident_daily AS t
    SELECT * FROM delta
    WHERE (incidents, cases, rejected, accepted, transferred, resolved, on_time, missed_open, escalated,
           settled_grid, settled_community, settled_street, settled_district)
          <> (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    ORDER BY grid_code, community_code, street_code, district_code, day  -- one lock order: no deadlocks
    ON CONFLICT (grid_code, community_code, street_code, district_code, day) DO UPDATE SET
        incidents = t.incidents + EXCLUDED.incidents, cases = t.cases + EXCLUDED.cases,
        rejected = t.rejected + EXCLUDED.rejected, accepted = t.accepted + EXCLUDED.accepted,
        transferred = t.transferred + EXCLUDED.transferred, resolved = t.resolved + EXCLUDED.resolved,
        on_time = t.on_time + EXCLUDED.on_time, missed_open = t.missed_open + EXCLUDED.missed_open,
        escalated = t.escalated + EXCLUDED.escalated, settled_grid = t.settled_grid + EXCLUDED.settled_grid,
        settled_community = t.settled_community + EXCLUDED.settled_community,
        settled_street = t.settled_street + EXCLUDED.settled_street,
        settled_district = t.settled_district + EXCLUDED.settled_district;
$$;

CREATE FUNCTION incident_daily_follow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    removed incident_daily_input[] := '{}';
    added incident_daily_input[] := '{}';
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        removed := ARRAY(SELECT ROW(o.created_at, o.grid_code, o.community_code, o.street_code, o.district_code, o.status,
                 o.merged_into, o.missed_deadline, o.escalations, o.settled_level,
                 o.dispatched_at)::incident_daily_input FROM old_rows o);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        added := ARRAY(SELECT ROW(n.created_at, n.grid_code, n.community_code, n.street_code, n.district_code, n.status,
                 n.merged_into, n.missed_deadline, n.escalations, n.settled_level,
                 n.dispatched_at)::incident_daily_input FROM new_rows n);
    END IF;
    PERFORM incident_daily_apply(removed, added);
    RETURN NULL;
END $$;
CREATE TRIGGER incident_daily_insert AFTER INSERT ON incidents REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION incident_daily_follow();
CREATE TRIGGER incident_daily_update AFTER UPDATE ON incidents
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION incident_daily_follow();
CREATE TRIGGER incident_daily_delete AFTER DELETE ON incidents REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION incident_daily_follow();

-- Count everything again (in slices, so a million incidents never sit in one array), in `zone`'s days.
CREATE FUNCTION incident_daily_rebuild(new_zone text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    low bigint;
    high bigint;
BEGIN
    LOCK TABLE incident_daily IN EXCLUSIVE MODE;
    UPDATE incident_daily_zone SET zone = new_zone;
    DELETE FROM incident_daily;  -- (the runtime role may delete rows, not truncate)
    SELECT min(id), max(id) INTO low, high FROM incidents;
    WHILE low <= high LOOP
        PERFORM incident_daily_apply('{}', ARRAY(
            SELECT ROW(i.created_at, i.grid_code, i.community_code, i.street_code, i.district_code, i.status,
                 i.merged_into, i.missed_deadline, i.escalations, i.settled_level,
                 i.dispatched_at)::incident_daily_input
            FROM incidents i WHERE i.id >= low AND i.id < low + 50000));
        low := low + 50000;
    END LOOP;
END $$;
SELECT incident_daily_rebuild('Asia/Shanghai');
