UPDATE api_clients SET scopes = array_remove(scopes, 'follow_ups:review');
ALTER TABLE api_clients DROP CONSTRAINT api_clients_scopes_check;
ALTER TABLE api_clients ADD CONSTRAINT api_clients_scopes_check
    CHECK (scopes <@ ARRAY['read', 'plans:write', 'follow_ups:write', 'admin']::text[]);

DROP INDEX follow_ups_year_review_idx;
ALTER TABLE follow_ups
    DROP CONSTRAINT follow_ups_returned_with_note,
    DROP CONSTRAINT follow_ups_review_recorded,
    DROP COLUMN reviewed_at,
    DROP COLUMN reviewed_by,
    DROP COLUMN review_note,
    DROP COLUMN review;
