-- A version can also be closed because its area was merged into a sibling (POST /api/grids/{code}/merge).
ALTER TABLE areas DROP CONSTRAINT areas_closed_change_check;
ALTER TABLE areas ADD CONSTRAINT areas_closed_change_check CHECK (closed_change IN ('update', 'delete', 'merge'));
