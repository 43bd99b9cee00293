-- Grids and areas: what each version did and who closed it, so history reads as a story; and a lookup of
-- every code ever used under a parent, so auto-numbering never hands out a code that once meant other land.
ALTER TABLE areas ADD COLUMN change text NOT NULL DEFAULT 'create'
    CHECK (change IN ('create', 'update', 'restore'));
ALTER TABLE areas ADD COLUMN closed_by text;
ALTER TABLE areas ADD COLUMN closed_change text CHECK (closed_change IN ('update', 'delete'));
CREATE INDEX areas_parent_all ON areas (parent_code);
