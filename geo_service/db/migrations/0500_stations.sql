-- Rest stations: who last changed them, and their 5/10/15-minute walking service circles.

ALTER TABLE stations ADD COLUMN updated_by text;
ALTER TABLE stations ADD CONSTRAINT stations_name_not_blank CHECK (btrim(name) <> '');

-- One row per station and contour, recomputed when the station moves or the walking network changes
-- (network_revision says which network a circle was drawn on; stale rows are redrawn).
CREATE TABLE service_circles (
    id                bigserial PRIMARY KEY,
    station_id        bigint NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    minutes           real NOT NULL CHECK (minutes > 0),
    speed_kmh         real NOT NULL CHECK (speed_kmh > 0),
    area_m2           double precision NOT NULL,
    station_version   integer NOT NULL,
    network_revision  bigint NOT NULL,
    computed_at       timestamptz NOT NULL DEFAULT now(),
    geom              geometry(MultiPolygon, 4326) NOT NULL,
    UNIQUE (station_id, minutes)
);
CREATE INDEX service_circles_geom ON service_circles USING gist (geom);
CREATE INDEX service_circles_station ON service_circles (station_id);

CREATE TRIGGER service_circles_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON service_circles
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision('service_circles');
