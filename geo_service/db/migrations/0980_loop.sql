-- The 12345 loop as cities run it: grid workers (tokens bound to grids), patrol reports, duplicates merged into
-- one case, callbacks (回访) with the caller's satisfaction, the milestones the three rates count, photos, and
-- the regular inspection of rest stations.

-- Grid workers: a token of role `worker` names the grids its holder patrols.
ALTER TABLE api_tokens DROP CONSTRAINT IF EXISTS api_tokens_role_check;
ALTER TABLE api_tokens
    ADD CONSTRAINT api_tokens_role_check CHECK (role IN ('admin', 'planner', 'dispatcher', 'worker')),
    ADD COLUMN grids text[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT api_tokens_worker_grids CHECK ((role = 'worker') = (cardinality(grids) > 0));

-- Where an incident came from, in the contract's words: a dispatcher's entry is a 12345 hotline ticket (the
-- demo tickets are too; their DEMO- ticket numbers mark them).
ALTER TABLE incidents DROP CONSTRAINT incidents_source_known;
UPDATE incidents SET source = 'hotline' WHERE source IN ('api', 'demo');
ALTER TABLE incidents
    ALTER COLUMN source SET DEFAULT 'hotline',
    ADD CONSTRAINT incidents_source_known CHECK (source IN ('hotline', 'patrol', 'open311', 'import')),
    -- a phone's own id for a report it queued offline: the same report sent twice is filed once
    ADD COLUMN client_id         text UNIQUE,
    ADD COLUMN accuracy_m        double precision CHECK (accuracy_m IS NULL OR accuracy_m >= 0),
    -- 并案: a duplicate follows the case it was merged into (one level: a case is never merged into a duplicate)
    ADD COLUMN merged_into       bigint REFERENCES incidents (id),
    ADD COLUMN merged_at         timestamptz,
    -- milestones of the case, written by the workflow (the rates read them; history keeps every step)
    ADD COLUMN responded_at      timestamptz,                 -- first taken in hand (in_progress)
    ADD COLUMN resolved_at       timestamptz,                 -- last reached resolved
    ADD COLUMN settled_level     text,                        -- the owner's level when last resolved
    ADD COLUMN missed_deadline   boolean NOT NULL DEFAULT false,
    ADD COLUMN callback_attempts integer NOT NULL DEFAULT 0,  -- unreached calls since the last resolution
    ADD COLUMN reopened          integer NOT NULL DEFAULT 0,  -- reopened after an unsatisfied callback
    ADD CONSTRAINT incidents_not_merged_into_itself CHECK (merged_into IS NULL OR merged_into <> id),
    ADD CONSTRAINT incidents_settled_level_known CHECK (
        settled_level IS NULL OR settled_level IN ('grid', 'community', 'street', 'district'));
CREATE INDEX incidents_merged_into ON incidents (merged_into) WHERE merged_into IS NOT NULL;
-- duplicate search: open cases of a class in a time window
CREATE INDEX incidents_open_category_created ON incidents (category, created_at)
    WHERE merged_into IS NULL AND status IN ('reported', 'filed', 'dispatched', 'in_progress', 'escalated');
-- the sweep skips duplicates (they follow their case)
DROP INDEX IF EXISTS incidents_due_open;
CREATE INDEX incidents_due_open ON incidents (due_at)
    WHERE merged_into IS NULL AND status IN ('reported', 'filed', 'dispatched', 'in_progress', 'escalated');

-- Milestones of incidents filed before this migration, from their history.
UPDATE incidents i SET responded_at = h.at
FROM (SELECT incident_id, min(at) AS at FROM incident_history WHERE to_status = 'in_progress'
      GROUP BY incident_id) h
WHERE h.incident_id = i.id;
UPDATE incidents i SET resolved_at = h.at, settled_level = i.owner_level
FROM (SELECT incident_id, max(at) AS at FROM incident_history WHERE to_status = 'resolved'
      GROUP BY incident_id) h
WHERE h.incident_id = i.id AND i.status IN ('resolved', 'verified', 'closed');
UPDATE incidents SET missed_deadline = true WHERE top_overdue_at IS NOT NULL OR id IN (
    SELECT incident_id FROM incident_history WHERE action = 'escalated' AND detail ->> 'reason' = 'overdue');

-- 回访: every call to a caller after resolution, reached or not.
CREATE TABLE incident_callbacks (
    id            bigserial PRIMARY KEY,
    incident_id   bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at            timestamptz NOT NULL,
    actor         text,
    reached       boolean NOT NULL,
    satisfaction  text CHECK (satisfaction IN ('satisfied', 'basically_satisfied', 'unsatisfied')),
    note          text,
    outcome       text NOT NULL CHECK (outcome IN ('closed', 'reopened', 'retry', 'failed')),
    CONSTRAINT incident_callbacks_answer CHECK (reached = (satisfaction IS NOT NULL))
);
CREATE INDEX incident_callbacks_incident ON incident_callbacks (incident_id, at);

-- 常态化巡查: a visit to a rest station, checked against what the station publishes.
CREATE TABLE station_inspections (
    id                 bigserial PRIMARY KEY,
    station_id         bigint NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    at                 timestamptz NOT NULL,
    inspector          text,
    role               text,
    open_as_published  boolean NOT NULL,
    amenities          jsonb NOT NULL DEFAULT '{}',    -- published amenity → found on the visit
    missing            text[] NOT NULL DEFAULT '{}',   -- published amenities not found
    notes              text,
    lon                double precision,               -- where the inspector stood (WGS-84), if sent
    lat                double precision
);
CREATE INDEX station_inspections_station ON station_inspections (station_id, at DESC);

-- Photos: of an incident (the report, or the work done) or of a station inspection. The bytes live here, not
-- in files, so that backups and the hot standby carry them with the rows they belong to, and a photo is written
-- in the same transaction as its incident. Only the cleaned re-encoding is kept (no EXIF, no GPS).
CREATE TABLE media (
    id             bigserial PRIMARY KEY,
    incident_id    bigint REFERENCES incidents (id) ON DELETE CASCADE,
    inspection_id  bigint REFERENCES station_inspections (id) ON DELETE CASCADE,
    stage          text NOT NULL DEFAULT 'report' CHECK (stage IN ('report', 'resolution', 'inspection')),
    content_type   text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png')),
    source_format  text NOT NULL,                   -- what was uploaded: JPEG, PNG, WEBP, HEIF
    width          integer NOT NULL CHECK (width > 0),
    height         integer NOT NULL CHECK (height > 0),
    bytes          integer NOT NULL CHECK (bytes > 0),
    sha256         text NOT NULL,                   -- of the stored bytes
    source_sha256  text NOT NULL,                   -- of the upload: the same file twice is stored once
    content        bytea NOT NULL,
    thumbnail      bytea NOT NULL,
    created_at     timestamptz NOT NULL,
    created_by     text,
    CONSTRAINT media_one_owner CHECK ((incident_id IS NULL) <> (inspection_id IS NULL))
);
-- JPEG and PNG are compressed already: store them out of line without trying to compress them again
ALTER TABLE media ALTER COLUMN content SET STORAGE EXTERNAL, ALTER COLUMN thumbnail SET STORAGE EXTERNAL;
CREATE UNIQUE INDEX media_incident_upload ON media (incident_id, source_sha256) WHERE incident_id IS NOT NULL;
CREATE INDEX media_inspection ON media (inspection_id) WHERE inspection_id IS NOT NULL;
