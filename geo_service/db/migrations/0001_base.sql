-- Base schema. Storage is EPSG:4326; metric work projects to a UTM / Gauss–Krüger zone chosen for the data.

CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Every table whose rows feed a cache (tiles, the locate index, the walking graph) bumps a revision here,
-- once per statement, so a cache anywhere can ask "has anything changed?" in one cheap query.
CREATE TABLE data_revisions (
    entity      text PRIMARY KEY,
    revision    bigint NOT NULL DEFAULT 0,
    changed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION bump_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO data_revisions (entity, revision, changed_at)
    VALUES (TG_ARGV[0], 1, now())
    ON CONFLICT (entity) DO UPDATE
        SET revision = data_revisions.revision + 1, changed_at = now();
    RETURN NULL;
END $$;

-- One row per imported OpenStreetMap extract; re-importing a name replaces its rows.
CREATE TABLE datasets (
    name         text PRIMARY KEY,
    kind         text NOT NULL DEFAULT 'osm',
    source       text,
    imported_at  timestamptz NOT NULL DEFAULT now(),
    srid         integer,                      -- metric CRS chosen for this extract
    bbox         geometry(Polygon, 4326),
    stats        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX datasets_bbox ON datasets USING gist (bbox);

-- Areas: district → street → community → grid. Versioned: a change closes the current row (valid_to) and
-- opens a new one, so history and incident snapshots stay exact. The current row has valid_to IS NULL.
CREATE TABLE areas (
    id           bigserial PRIMARY KEY,
    code         text NOT NULL,
    name         text NOT NULL,
    level        text NOT NULL CHECK (level IN ('district', 'street', 'community', 'grid')),
    parent_code  text,
    households   integer CHECK (households >= 0),
    population   integer CHECK (population >= 0),
    workers      jsonb NOT NULL DEFAULT '[]',
    properties   jsonb NOT NULL DEFAULT '{}',
    source       text NOT NULL DEFAULT 'api',
    dataset      text REFERENCES datasets (name) ON DELETE CASCADE,
    version      integer NOT NULL DEFAULT 1,
    valid_from   timestamptz NOT NULL DEFAULT now(),
    valid_to     timestamptz,
    changed_by   text,
    geom         geometry(MultiPolygon, 4326) NOT NULL,
    UNIQUE (code, version),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE UNIQUE INDEX areas_current_code ON areas (code) WHERE valid_to IS NULL;
CREATE INDEX areas_current_parent ON areas (parent_code) WHERE valid_to IS NULL;
CREATE INDEX areas_level ON areas (level) WHERE valid_to IS NULL;
CREATE INDEX areas_geom ON areas USING gist (geom);
CREATE INDEX areas_validity ON areas (valid_from, valid_to);

-- Rest stations for outdoor workers (暖心驿站 and kin).
CREATE TABLE stations (
    id             bigserial PRIMARY KEY,
    name           text NOT NULL,
    kind           text NOT NULL,
    amenities      text[] NOT NULL DEFAULT '{}',
    opening_hours  text,
    manager        text,
    contact        text,
    address        text,
    properties     jsonb NOT NULL DEFAULT '{}',
    version        integer NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    geom           geometry(Point, 4326) NOT NULL
);
CREATE INDEX stations_geom ON stations USING gist (geom);

-- Facilities (POIs) by category: imported from OSM (dataset set) or added by planners (dataset NULL).
CREATE TABLE facilities (
    id          bigserial PRIMARY KEY,
    dataset     text REFERENCES datasets (name) ON DELETE CASCADE,
    osm_type    text,
    osm_id      bigint,
    name        text,
    category    text NOT NULL,
    source      text NOT NULL DEFAULT 'osm',
    tags        jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    geom        geometry(Point, 4326) NOT NULL
);
CREATE INDEX facilities_geom ON facilities USING gist (geom);
CREATE INDEX facilities_category ON facilities (category);
CREATE INDEX facilities_dataset ON facilities (dataset);

-- Residences: buildings where people live; households estimated from the footprint unless reported.
CREATE TABLE residences (
    id                   bigserial PRIMARY KEY,
    dataset              text REFERENCES datasets (name) ON DELETE CASCADE,
    osm_type             text,
    osm_id               bigint,
    building             text,
    levels               real,
    footprint_m2         real,
    households_est       real NOT NULL DEFAULT 0,   -- footprint_m2 × levels ÷ dwelling_m2
    households_reported  integer,                   -- a real count, when imported, wins
    address              text,
    geom                 geometry(Point, 4326) NOT NULL,   -- a point inside the footprint
    footprint            geometry(MultiPolygon, 4326)
);
CREATE INDEX residences_geom ON residences USING gist (geom);
CREATE INDEX residences_footprint ON residences USING gist (footprint);
CREATE INDEX residences_dataset ON residences (dataset);
CREATE INDEX residences_osm ON residences (osm_type, osm_id);

-- The walking network: OSM nodes where ways meet, and the way pieces between them.
CREATE TABLE walk_nodes (
    dataset  text NOT NULL REFERENCES datasets (name) ON DELETE CASCADE,
    id       bigint NOT NULL,           -- OSM node id
    geom     geometry(Point, 4326) NOT NULL,
    PRIMARY KEY (dataset, id)
);
CREATE INDEX walk_nodes_geom ON walk_nodes USING gist (geom);

CREATE TABLE walk_edges (
    id        bigserial PRIMARY KEY,
    dataset   text NOT NULL REFERENCES datasets (name) ON DELETE CASCADE,
    osm_id    bigint,                   -- OSM way id
    u         bigint NOT NULL,          -- OSM node ids of the two ends
    v         bigint NOT NULL,
    length_m  double precision NOT NULL CHECK (length_m >= 0),
    highway   text,
    foot      text,                     -- the foot=* / access=* value that admitted it
    steps     boolean NOT NULL DEFAULT false,
    name      text,
    geom      geometry(LineString, 4326) NOT NULL
);
CREATE INDEX walk_edges_geom ON walk_edges USING gist (geom);
CREATE INDEX walk_edges_dataset ON walk_edges (dataset);

-- Background map features drawn by our own tiles and guide maps (no internet basemap).
CREATE TABLE basemap_features (
    id       bigserial PRIMARY KEY,
    dataset  text NOT NULL REFERENCES datasets (name) ON DELETE CASCADE,
    kind     text NOT NULL CHECK (kind IN ('road', 'building', 'water', 'green', 'rail')),
    class    text,
    name     text,
    geom     geometry(Geometry, 4326) NOT NULL
);
CREATE INDEX basemap_features_geom ON basemap_features USING gist (geom);
CREATE INDEX basemap_features_kind ON basemap_features (kind);

-- Gazetteer: addresses and named places for geocoding (facilities, stations and areas join in at query time).
CREATE TABLE gazetteer (
    id          bigserial PRIMARY KEY,
    dataset     text REFERENCES datasets (name) ON DELETE CASCADE,
    kind        text NOT NULL,          -- address, place, street, ...
    name        text NOT NULL,
    properties  jsonb NOT NULL DEFAULT '{}',
    geom        geometry(Point, 4326) NOT NULL
);
CREATE INDEX gazetteer_geom ON gazetteer USING gist (geom);
CREATE INDEX gazetteer_name_trgm ON gazetteer USING gin (name gin_trgm_ops);

-- Incidents (12345 tickets and grid reports) and their closed-loop history.
CREATE TABLE incidents (
    id                      bigserial PRIMARY KEY,
    external_id             text UNIQUE,
    category                text NOT NULL,
    description             text,
    address                 text,
    reporter                jsonb NOT NULL DEFAULT '{}',
    status                  text NOT NULL DEFAULT 'reported',
    crs                     text NOT NULL DEFAULT 'wgs84',
    input_lon               double precision,   -- as given, before conversion to WGS-84
    input_lat               double precision,
    grid_code               text,
    grid_version            integer,
    owner_level             text,               -- the level that owns it now (grid, community, ...)
    owner_code              text,
    area_snapshot           jsonb NOT NULL DEFAULT '[]',   -- the grid and its ancestors, with versions, at intake
    near_boundary           boolean NOT NULL DEFAULT false,
    distance_to_boundary_m  double precision,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    due_at                  timestamptz,
    closed_at               timestamptz,
    geom                    geometry(Point, 4326) NOT NULL
);
CREATE INDEX incidents_geom ON incidents USING gist (geom);
CREATE INDEX incidents_grid ON incidents (grid_code);
CREATE INDEX incidents_status ON incidents (status);
CREATE INDEX incidents_created ON incidents (created_at);

CREATE TABLE incident_history (
    id           bigserial PRIMARY KEY,
    incident_id  bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text,
    action       text NOT NULL,         -- created, transition, escalated, reassigned, ...
    from_status  text,
    to_status    text,
    note         text,
    detail       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX incident_history_incident ON incident_history (incident_id, at);

-- API tokens: only a SHA-256 of the token is kept.
CREATE TABLE api_tokens (
    id          bigserial PRIMARY KEY,
    token_hash  text NOT NULL UNIQUE,
    role        text NOT NULL CHECK (role IN ('admin', 'planner', 'dispatcher')),
    name        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text,
    role       text,
    action     text NOT NULL,
    entity     text NOT NULL,
    entity_id  text,
    detail     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id);

CREATE TRIGGER areas_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON areas
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision('areas');
CREATE TRIGGER stations_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON stations
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision('stations');
CREATE TRIGGER facilities_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON facilities
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision('facilities');
CREATE TRIGGER residences_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON residences
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision('residences');
CREATE TRIGGER walk_edges_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON walk_edges
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision('network');
CREATE TRIGGER basemap_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON basemap_features
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision('basemap');
CREATE TRIGGER incidents_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON incidents
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision('incidents');
