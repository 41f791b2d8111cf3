-- Batch and CSV writes of follow-ups: the answers kept for Idempotency-Key retries, and the index
-- behind the follow-up list's order and year filter.

-- The first successful answer to a request carrying an Idempotency-Key, per caller and key, so a
-- retried request gets that answer instead of being applied again. Kept 24 hours.
CREATE TABLE idempotency_keys (
    owner        text NOT NULL CHECK (char_length(owner) BETWEEN 1 AND 300),
    key          text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 200),
    -- SHA-256 (hex) of the endpoint and the request body: the same key with another body is refused.
    request_hash text NOT NULL,
    status       smallint,
    body         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, key)
);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

CREATE INDEX follow_ups_year_activity_idx ON follow_ups (year, activity_id);
