-- The map: WGS-84 → GCJ-02 ("Mars coordinates") in SQL, so tiles and features drawn over AMap/Tencent
-- basemaps can be shifted server-side (`?crs=gcj02`).
--
-- The forward transform is a closed formula (the published "eviltransform" / coordtransform one; constants:
-- Krasovsky semi-major axis 6378245 m, e² = 0.00669342162296594323). It is the identity outside the usual
-- China box (72.004–137.8347 E, 0.8293–55.8271 N), as in every common implementation. The inverse is not
-- closed (it needs iteration) and is not needed here: storage stays WGS-84.

CREATE FUNCTION gcj02_offset_m(x double precision, y double precision, OUT dlon double precision,
                               OUT dlat double precision)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    -- x = lon − 105, y = lat − 35 (degrees); results in the formula's metre-like units.
    SELECT
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt(abs(x))
            + (20.0 * sin(6.0 * x * pi()) + 20.0 * sin(2.0 * x * pi())) * 2.0 / 3.0
            + (20.0 * sin(x * pi()) + 40.0 * sin(x / 3.0 * pi())) * 2.0 / 3.0
            + (150.0 * sin(x / 12.0 * pi()) + 300.0 * sin(x / 30.0 * pi())) * 2.0 / 3.0,
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt(abs(x))
            + (20.0 * sin(6.0 * x * pi()) + 20.0 * sin(2.0 * x * pi())) * 2.0 / 3.0
            + (20.0 * sin(y * pi()) + 40.0 * sin(y / 3.0 * pi())) * 2.0 / 3.0
            + (160.0 * sin(y / 12.0 * pi()) + 320.0 * sin(y * pi() / 30.0)) * 2.0 / 3.0
$$;

-- One WGS-84 longitude/latitude → GCJ-02, as a point (SRID 4326 kept: GCJ-02 has no EPSG code).
CREATE FUNCTION gcj02_point(lon double precision, lat double precision) RETURNS geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN lon < 72.004 OR lon > 137.8347 OR lat < 0.8293 OR lat > 55.8271
            THEN ST_SetSRID(ST_MakePoint(lon, lat), 4326)
        ELSE (
            SELECT ST_SetSRID(ST_MakePoint(
                lon + (o.dlon * 180.0) / (6378245.0 / sqrt(m.magic) * cos(m.radlat) * pi()),
                lat + (o.dlat * 180.0)
                    / ((6378245.0 * (1 - 0.00669342162296594323)) / (m.magic * sqrt(m.magic)) * pi())
            ), 4326)
            FROM gcj02_offset_m(lon - 105.0, lat - 35.0) AS o,
                 LATERAL (SELECT radians(lat) AS radlat,
                                 1 - 0.00669342162296594323 * sin(radians(lat)) ^ 2 AS magic) AS m
        )
    END
$$;

-- Every vertex of a WGS-84 geometry shifted to GCJ-02 (points, lines, polygons with holes, multi-parts and
-- collections; Z/M dropped). A per-vertex shift, not one translation per feature: neighbouring grids keep
-- their shared edges.
CREATE FUNCTION gcj02_shift(g geometry) RETURNS geometry
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    kind text := GeometryType(g);
BEGIN
    IF ST_IsEmpty(g)
       OR ST_XMax(g) < 72.004 OR ST_XMin(g) > 137.8347 OR ST_YMax(g) < 0.8293 OR ST_YMin(g) > 55.8271 THEN
        RETURN g;   -- wholly outside China: the transform is the identity
    END IF;
    IF kind = 'POINT' THEN
        RETURN ST_SetSRID(gcj02_point(ST_X(g), ST_Y(g)), ST_SRID(g));
    ELSIF kind = 'LINESTRING' THEN
        RETURN ST_SetSRID(ST_MakeLine(ARRAY(
            SELECT gcj02_point(ST_X(d.geom), ST_Y(d.geom)) FROM ST_DumpPoints(g) AS d ORDER BY d.path
        )), ST_SRID(g));
    ELSIF kind = 'POLYGON' THEN
        RETURN ST_SetSRID(ST_MakePolygon(
            gcj02_shift(ST_ExteriorRing(g)),
            ARRAY(SELECT gcj02_shift(ST_InteriorRingN(g, i))
                  FROM generate_series(1, ST_NumInteriorRings(g)) AS i ORDER BY i)
        ), ST_SRID(g));
    ELSE
        RETURN ST_SetSRID(ST_Collect(ARRAY(
            SELECT gcj02_shift(d.geom) FROM ST_Dump(g) AS d ORDER BY d.path
        )), ST_SRID(g));
    END IF;
END $$;
