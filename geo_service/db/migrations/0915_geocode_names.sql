-- The geocoder's search index: one row per searchable name of the gazetteer, facilities, rest stations (name
-- and address) and current areas, with the forms matching needs (geo_service/geocode/keys.py): the index key
-- (folded: simplified Chinese, half-width, no punctuation, numerals as digits), full pinyin and initials, the
-- parsed road and house number, compound and building, administrative names, and the precision.
--
-- Triggers keep the rows in step with their sources (name, kind, point); the keys are computed in Python
-- (OpenCC, pypinyin), so a row written by a trigger has name_key NULL until the geocoder keys it (before its
-- next search: a probe of the partial index geocode_names_pending). Bulk imports write keyed rows themselves
-- and set geo_service.geocode_names_written = 'on' for their transaction, so the gazetteer trigger stays out.
-- levenshtein() orders the names found one typo away (the variants find them, the distance ranks them)
CREATE EXTENSION IF NOT EXISTS fuzzystrmatch;

CREATE TABLE geocode_names (
    id            bigserial PRIMARY KEY,
    source        text NOT NULL CHECK (source IN ('gazetteer', 'facility', 'station', 'station_address', 'area')),
    gazetteer_id  bigint REFERENCES gazetteer (id) ON DELETE CASCADE,
    facility_id   bigint REFERENCES facilities (id) ON DELETE CASCADE,
    station_id    bigint REFERENCES stations (id) ON DELETE CASCADE,
    area_id       bigint REFERENCES areas (id) ON DELETE CASCADE,
    kind          text NOT NULL,
    category      text,
    name          text NOT NULL,
    geom          geometry(Point, 4326) NOT NULL,
    precision     text CHECK (precision IN ('house_number', 'building', 'poi', 'street', 'area', 'city')),
    name_key      text,
    pinyin        text,
    initials      text,
    road          text,
    road_pinyin   text,
    house_number  text,
    compound      text,
    building      text,
    admin         text,
    variants      text[]        -- named places: the key and each key with one character left out (typos)
);
CREATE INDEX geocode_names_gazetteer ON geocode_names (gazetteer_id) WHERE gazetteer_id IS NOT NULL;
CREATE INDEX geocode_names_facility ON geocode_names (facility_id) WHERE facility_id IS NOT NULL;
CREATE INDEX geocode_names_station ON geocode_names (station_id) WHERE station_id IS NOT NULL;
CREATE INDEX geocode_names_area ON geocode_names (area_id) WHERE area_id IS NOT NULL;
CREATE INDEX geocode_names_pending ON geocode_names (id) WHERE name_key IS NULL;
-- exact lookups (btree): whole key, pinyin, initials, road + number, compound + building
CREATE INDEX geocode_names_pinyin ON geocode_names (pinyin) WHERE pinyin IS NOT NULL;
CREATE INDEX geocode_names_initials ON geocode_names (initials) WHERE initials IS NOT NULL;
CREATE INDEX geocode_names_road_number ON geocode_names (road, house_number) WHERE road IS NOT NULL;
CREATE INDEX geocode_names_road_pinyin_number ON geocode_names (road_pinyin, house_number)
    WHERE road_pinyin IS NOT NULL;
CREATE INDEX geocode_names_compound_building ON geocode_names (compound, building) WHERE compound IS NOT NULL;
CREATE INDEX geocode_names_key ON geocode_names (name_key text_pattern_ops);  -- equality and prefixes
-- fuzzy lookups: one typo (a character wrong, missing, extra or swapped) by shared one-deletion variants
-- (SymSpell's idea, exact for edit distance 1); anything farther by pg_trgm over the names of places, streets
-- and areas (addresses and numbered buildings are found by their parts, and are most of the rows)
CREATE INDEX geocode_names_variants ON geocode_names USING gin (variants) WHERE variants IS NOT NULL;
CREATE INDEX geocode_names_key_trgm ON geocode_names USING gin (name_key gin_trgm_ops)
    WHERE precision IN ('poi', 'street', 'area', 'city');
CREATE INDEX geocode_names_geom ON geocode_names USING gist (geom);

-- gazetteer: new entries (statement level: one INSERT … SELECT per COPY); deletes cascade
CREATE FUNCTION geocode_names_from_gazetteer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('geo_service.geocode_names_written', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM geocode_names g USING changed c WHERE g.gazetteer_id = c.id;
    END IF;
    INSERT INTO geocode_names (source, gazetteer_id, kind, name, geom)
    SELECT 'gazetteer', c.id, c.kind, c.name, c.geom FROM changed c WHERE c.name <> '';
    RETURN NULL;
END $$;
CREATE TRIGGER gazetteer_names_insert AFTER INSERT ON gazetteer REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION geocode_names_from_gazetteer();
CREATE TRIGGER gazetteer_names_update AFTER UPDATE ON gazetteer REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION geocode_names_from_gazetteer();

-- facilities: named and not deleted
CREATE FUNCTION geocode_names_from_facilities() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM geocode_names g USING changed c WHERE g.facility_id = c.id;
    END IF;
    INSERT INTO geocode_names (source, facility_id, kind, category, name, geom)
    SELECT 'facility', c.id, 'facility', c.category, c.name, c.geom FROM changed c
    WHERE c.name IS NOT NULL AND c.name <> '' AND c.deleted_at IS NULL;
    RETURN NULL;
END $$;
CREATE TRIGGER facilities_names_insert AFTER INSERT ON facilities REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION geocode_names_from_facilities();
CREATE TRIGGER facilities_names_update AFTER UPDATE ON facilities REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION geocode_names_from_facilities();

-- stations: the name and, when given, the address
CREATE FUNCTION geocode_names_from_stations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM geocode_names g USING changed c WHERE g.station_id = c.id;
    END IF;
    INSERT INTO geocode_names (source, station_id, kind, category, name, geom)
    SELECT 'station', c.id, 'station', c.kind, c.name, c.geom FROM changed c WHERE c.name <> ''
    UNION ALL
    SELECT 'station_address', c.id, 'station_address', c.kind, c.address, c.geom FROM changed c
    WHERE c.address IS NOT NULL AND c.address <> '';
    RETURN NULL;
END $$;
CREATE TRIGGER stations_names_insert AFTER INSERT ON stations REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION geocode_names_from_stations();
CREATE TRIGGER stations_names_update AFTER UPDATE ON stations REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION geocode_names_from_stations();

-- areas: current versions only (closing a version removes its name; the new version brings it back)
CREATE FUNCTION geocode_names_from_areas() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM geocode_names g USING changed c WHERE g.area_id = c.id;
    END IF;
    INSERT INTO geocode_names (source, area_id, kind, category, name, geom)
    SELECT 'area', c.id, c.level, c.code, c.name, ST_PointOnSurface(c.geom) FROM changed c
    WHERE c.valid_to IS NULL AND c.name <> '';
    RETURN NULL;
END $$;
CREATE TRIGGER areas_names_insert AFTER INSERT ON areas REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION geocode_names_from_areas();
CREATE TRIGGER areas_names_update AFTER UPDATE ON areas REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION geocode_names_from_areas();

-- what exists already (keyed by the geocoder before its first search)
INSERT INTO geocode_names (source, gazetteer_id, kind, name, geom)
SELECT 'gazetteer', id, kind, name, geom FROM gazetteer WHERE name <> '';
INSERT INTO geocode_names (source, facility_id, kind, category, name, geom)
SELECT 'facility', id, 'facility', category, name, geom FROM facilities
WHERE name IS NOT NULL AND name <> '' AND deleted_at IS NULL;
INSERT INTO geocode_names (source, station_id, kind, category, name, geom)
SELECT 'station', id, 'station', kind, name, geom FROM stations WHERE name <> ''
UNION ALL
SELECT 'station_address', id, 'station_address', kind, address, geom FROM stations
WHERE address IS NOT NULL AND address <> '';
INSERT INTO geocode_names (source, area_id, kind, category, name, geom)
SELECT 'area', id, level, code, name, ST_PointOnSurface(geom) FROM areas WHERE valid_to IS NULL AND name <> '';
