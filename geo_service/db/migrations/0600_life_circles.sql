-- Life circles: facilities planners add or correct, and the coverage of areas by profile.

-- A planner's correction of an imported facility detaches it from its dataset (dataset NULL, source
-- 'planner', osm_type/osm_id kept), so a re-import neither deletes nor duplicates it; a deleted imported
-- facility stays as a tombstone (deleted_at set) for the same reason.
ALTER TABLE facilities ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE facilities ADD COLUMN updated_by text;
ALTER TABLE facilities ADD COLUMN deleted_at timestamptz;
CREATE INDEX facilities_osm ON facilities (osm_type, osm_id) WHERE osm_id IS NOT NULL;
CREATE INDEX facilities_live ON facilities (category) WHERE deleted_at IS NULL;

-- Household-weighted share of each area's homes reaching each category, per profile and level; rewritten
-- whenever coverage is recomputed (facilities, network, residences or areas changed).
CREATE TABLE area_coverage (
    profile              text NOT NULL,
    area_code            text NOT NULL,
    level                text NOT NULL,
    minutes              real NOT NULL,
    category             text NOT NULL,
    households           double precision NOT NULL,
    households_reached   double precision NOT NULL,
    share                double precision NOT NULL,
    score                double precision NOT NULL,     -- the area's overall score for the profile
    computed_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (profile, area_code, minutes, category)
);
CREATE INDEX area_coverage_area ON area_coverage (area_code);

CREATE TRIGGER area_coverage_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON area_coverage
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision('coverage');
