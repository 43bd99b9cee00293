-- Other departments' networks (多网合一): a named network (public security, city management, civil affairs…)
-- holds cells with their own codes, names and properties. Every import is a new version of the whole network:
-- the previous version's cells are closed (valid_to) and the new ones opened at the same instant, so any past
-- version can be read back whole.
CREATE TABLE networks (
    name         text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]{0,39}$'),
    department   text,                          -- label shown to people, e.g. 公安局
    version      integer NOT NULL DEFAULT 0,    -- the current version (0 before the first import)
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE network_versions (
    network      text NOT NULL REFERENCES networks (name) ON DELETE CASCADE,
    version      integer NOT NULL CHECK (version >= 1),
    imported_at  timestamptz NOT NULL DEFAULT now(),
    imported_by  text,
    source       text,                          -- file name of the upload, when there was one
    crs          text,                          -- the CRS the file was read from (as asked or as it said)
    cells        integer NOT NULL,
    PRIMARY KEY (network, version)
);

CREATE TABLE network_cells (
    id           bigserial PRIMARY KEY,
    network      text NOT NULL REFERENCES networks (name) ON DELETE CASCADE,
    version      integer NOT NULL,
    code         text NOT NULL,
    name         text,
    properties   jsonb NOT NULL DEFAULT '{}',
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,                   -- set when the next import closes this version
    geom         geometry(MultiPolygon, 4326) NOT NULL,
    FOREIGN KEY (network, version) REFERENCES network_versions (network, version) ON DELETE CASCADE,
    UNIQUE (network, version, code)
);
CREATE UNIQUE INDEX network_cells_current ON network_cells (network, code) WHERE valid_to IS NULL;
CREATE INDEX network_cells_geom ON network_cells USING gist (geom);

CREATE TRIGGER networks_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON networks
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision('networks');
CREATE TRIGGER network_cells_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON network_cells
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision('networks');
