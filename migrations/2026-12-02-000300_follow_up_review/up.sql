-- The review step of the yearly follow-up round: every follow-up is `submitted` when reported,
-- then `approved` or `returned` (with a note) by a reviewer, who is recorded with the time.
ALTER TABLE follow_ups
    ADD COLUMN review      text NOT NULL DEFAULT 'submitted'
        CHECK (review IN ('submitted', 'approved', 'returned')),
    ADD COLUMN review_note text CHECK (char_length(review_note) BETWEEN 1 AND 4000),
    ADD COLUMN reviewed_by text CHECK (char_length(reviewed_by) BETWEEN 1 AND 200),
    ADD COLUMN reviewed_at timestamptz,
    -- A reviewed follow-up names its reviewer and time; a submitted one names neither; a
    -- returned one says why.
    ADD CONSTRAINT follow_ups_review_recorded CHECK (
        (review = 'submitted') = (reviewed_by IS NULL AND reviewed_at IS NULL)),
    ADD CONSTRAINT follow_ups_returned_with_note CHECK (
        review <> 'returned' OR review_note IS NOT NULL);

-- The chase list counts follow-ups of a year by review state.
CREATE INDEX follow_ups_year_review_idx ON follow_ups (year, review);

ALTER TABLE api_clients DROP CONSTRAINT api_clients_scopes_check;
ALTER TABLE api_clients ADD CONSTRAINT api_clients_scopes_check
    CHECK (scopes <@ ARRAY['read', 'plans:write', 'follow_ups:write', 'follow_ups:review', 'admin']::text[]);
