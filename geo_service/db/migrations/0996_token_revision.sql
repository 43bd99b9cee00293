-- Each server process keeps the tokens presented to it lately (geo_service.auth.TokenCache) instead of looking
-- every request's token up. Whatever decides who a token is — its creation, revocation, expiry, role, grids,
-- removal — bumps the `tokens` revision, announced at commit, and the processes drop what they kept. Noting a
-- token's last use does not: it is written once a minute per token in use and must not empty every cache.
CREATE TRIGGER api_tokens_revision AFTER INSERT OR DELETE OR TRUNCATE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision('tokens');
CREATE TRIGGER api_tokens_identity_revision
    AFTER UPDATE OF token_hash, role, name, grids, created_at, expires_at, revoked_at ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision('tokens');
