-- Walking edges below ground (tunnels, underground passages, negative layers or levels) are kept for routing,
-- but a point on the surface snaps to them only when no surface edge is within reach: a shop on a street
-- should not be reached through the service tunnel under it. Set by import-osm; false for older imports.
ALTER TABLE walk_edges ADD COLUMN underground boolean NOT NULL DEFAULT false;
