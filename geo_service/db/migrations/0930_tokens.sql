-- Token lifecycle: an optional expiry (`geo-service token create --expires-days N`) and when a token was last
-- used (`geo-service token list`, refreshed at most once a minute). An expired or revoked token is refused.
ALTER TABLE api_tokens
    ADD COLUMN expires_at   timestamptz,
    ADD COLUMN last_used_at timestamptz,
    ADD CONSTRAINT api_tokens_expiry_after_creation CHECK (expires_at IS NULL OR expires_at > created_at);
