DROP INDEX follow_ups_year_activity_idx;
DROP TABLE idempotency_keys;
