-- Every bump of a data revision is also announced on channel `data_revisions` (payload: the entity), sent at
-- commit. Each server process listens (geo_service.db.revisions) and keeps the revisions in memory instead of
-- asking the database on every request; the announcement tells it when to ask again.
CREATE OR REPLACE FUNCTION bump_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO data_revisions (entity, revision, changed_at)
    VALUES (TG_ARGV[0], 1, now())
    ON CONFLICT (entity) DO UPDATE
        SET revision = data_revisions.revision + 1, changed_at = now();
    PERFORM pg_notify('data_revisions', TG_ARGV[0]);
    RETURN NULL;
END $$;
