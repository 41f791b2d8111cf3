-- Search over activities, the numeric goal-code order, and the commit-ordered change log that
-- cache validators and the change feed are built on.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- "4.2" before "4.10": goal codes compare their numbers as numbers.
CREATE COLLATION swedish_numeric (provider = icu, locale = 'sv-SE-u-kn-true');

-- What free-text search looks at, per activity: its title, description and its goal's title.
-- Kept in a table of its own so that renaming a goal re-indexes its activities without
-- changing their versions.
CREATE TABLE activity_search (
    activity_id uuid PRIMARY KEY REFERENCES activities (id) ON DELETE CASCADE,
    document    tsvector NOT NULL,
    -- Lower-cased text for substring matches: parts of Swedish compounds ("bibliotek" in
    -- "folkbibliotekens") that the stemmer does not split.
    body        text NOT NULL
);
CREATE INDEX activity_search_document_idx ON activity_search USING gin (document);
CREATE INDEX activity_search_body_trgm_idx ON activity_search USING gin (body gin_trgm_ops);

CREATE FUNCTION index_activity(activity activities) RETURNS void LANGUAGE sql AS $$
    INSERT INTO activity_search (activity_id, document, body)
    SELECT activity.id,
           setweight(to_tsvector('swedish', activity.title), 'A')
           || setweight(to_tsvector('swedish', coalesce(activity.description, '')), 'B')
           || setweight(to_tsvector('swedish', coalesce(g.title, '')), 'C'),
           lower(activity.title || ' ' || coalesce(activity.description, '') || ' ' || coalesce(g.title, ''))
    FROM (SELECT 1) one LEFT JOIN goals g ON g.id = activity.goal_id
    ON CONFLICT (activity_id) DO UPDATE SET document = excluded.document, body = excluded.body;
$$;

CREATE FUNCTION activities_search_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM index_activity(NEW);
    RETURN NULL;
END;
$$;
CREATE TRIGGER activities_search AFTER INSERT OR UPDATE OF title, description, goal_id ON activities
    FOR EACH ROW EXECUTE FUNCTION activities_search_trigger();

CREATE FUNCTION goals_search_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM index_activity(a) FROM activities a WHERE a.goal_id = NEW.id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER goals_search AFTER UPDATE OF title ON goals
    FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title) EXECUTE FUNCTION goals_search_trigger();

CREATE INDEX activities_tags_idx ON activities USING gin (tags);
CREATE INDEX activities_start_year_idx ON activities (start_year, id);
CREATE INDEX activities_title_idx ON activities (title, id);
CREATE INDEX activities_updated_at_idx ON activities (updated_at, id);
CREATE INDEX follow_ups_activity_year_idx ON follow_ups (activity_id, year DESC);
CREATE INDEX actors_name_trgm_idx ON actors USING gin (lower(name) gin_trgm_ops);
CREATE INDEX goals_title_trgm_idx ON goals USING gin (lower(title) gin_trgm_ops);

-- One row counting every transaction that changed served data. A writer bumps it at its first
-- changed row and holds the row until commit, so the numbers are handed out in commit order:
-- a reader that saw n has seen every change numbered up to n. Row locks come before this lock
-- in every transaction, which keeps writers free of lock-order deadlocks on it.
CREATE TABLE data_version (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    n         bigint NOT NULL
);
INSERT INTO data_version VALUES (true, 0);

-- Every create, update and delete of the served data, numbered by the data version of its
-- transaction (a transaction's rows share the number; id orders them within it).
CREATE TABLE changes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seq        bigint NOT NULL,
    entity     text NOT NULL,
    entity_id  uuid NOT NULL,
    -- For rows without an id of their own (an actor's role in an activity, a linked goal) and
    -- the natural key of a follow-up.
    key        jsonb,
    op         text NOT NULL CHECK (op IN ('create', 'update', 'delete')),
    version    integer,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX changes_seq_idx ON changes (seq, id);

CREATE FUNCTION log_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row_data jsonb;
    change_op text;
    change_id uuid;
    change_key jsonb;
    seq bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        row_data := to_jsonb(OLD);
        change_op := 'delete';
    ELSE
        row_data := to_jsonb(NEW);
        change_op := CASE TG_OP WHEN 'INSERT' THEN 'create' ELSE 'update' END;
        IF TG_OP = 'UPDATE' AND to_jsonb(OLD) = row_data THEN
            RETURN NULL;
        END IF;
    END IF;
    IF TG_TABLE_NAME = 'activity_actors' THEN
        change_id := (row_data ->> 'activity_id')::uuid;
        change_key := jsonb_build_object('actor_id', row_data -> 'actor_id', 'role', row_data -> 'role');
    ELSIF TG_TABLE_NAME = 'activity_goals' THEN
        change_id := (row_data ->> 'activity_id')::uuid;
        change_key := jsonb_build_object('goal_id', row_data -> 'goal_id');
    ELSIF TG_TABLE_NAME = 'plan_activities' THEN
        change_id := (row_data ->> 'activity_id')::uuid;
        change_key := jsonb_build_object('plan_id', row_data -> 'plan_id');
    ELSIF TG_TABLE_NAME = 'follow_ups' THEN
        change_id := (row_data ->> 'id')::uuid;
        change_key := jsonb_build_object('activity_id', row_data -> 'activity_id', 'year', row_data -> 'year');
    ELSE
        change_id := (row_data ->> 'id')::uuid;
    END IF;
    seq := nullif(current_setting('kulturplan.change_seq', true), '')::bigint;
    IF seq IS NULL THEN
        UPDATE data_version SET n = n + 1 RETURNING n INTO seq;
        PERFORM set_config('kulturplan.change_seq', seq::text, true);
    END IF;
    INSERT INTO changes (seq, entity, entity_id, key, op, version)
    VALUES (seq, TG_TABLE_NAME, change_id, change_key, change_op, (row_data ->> 'version')::integer);
    RETURN NULL;
END;
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['plans', 'goals', 'activities', 'actors', 'activity_actors', 'activity_goals', 'plan_activities', 'follow_ups']
    LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION log_change()', t || '_log_change', t);
    END LOOP;
END;
$$;
