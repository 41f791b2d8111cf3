-- The whole domain of a regional cultural plan: plans, their goal trees, activities and the actors
-- that run and join them, the yearly follow-up with its history, and the API clients.
-- Enumerations are checked text so that adding a value is a one-line, transactional change.

-- Every UPDATE that really changes a row moves updated_at and version, so ETags and
-- optimistic concurrency cannot be bypassed by a forgotten column in a handler.
CREATE FUNCTION bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.updated_at := now();
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END;
$$;

-- Names and titles sort in Swedish order (Å, Ä, Ö after Z) wherever they are compared.
CREATE COLLATION swedish (provider = icu, locale = 'sv-SE');

CREATE TABLE plans (
    id          uuid PRIMARY KEY,
    title       text COLLATE swedish NOT NULL CHECK (char_length(title) BETWEEN 1 AND 500),
    kind        text NOT NULL CHECK (kind IN ('culture_plan', 'implementation_plan', 'action_plan')),
    status      text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'adopted', 'archived')),
    first_year  integer NOT NULL CHECK (first_year BETWEEN 1900 AND 2100),
    last_year   integer NOT NULL CHECK (last_year BETWEEN 1900 AND 2100),
    parent_id   uuid REFERENCES plans (id),
    reference   text CHECK (char_length(reference) BETWEEN 1 AND 100),
    adopted_on  date,
    description text CHECK (char_length(description) <= 20000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     integer NOT NULL DEFAULT 1,
    CONSTRAINT plans_period_check CHECK (first_year <= last_year),
    CONSTRAINT plans_not_own_parent CHECK (parent_id <> id)
);
CREATE INDEX plans_parent_id_idx ON plans (parent_id);
CREATE INDEX plans_kind_idx ON plans (kind);
CREATE TRIGGER plans_bump_version BEFORE UPDATE ON plans FOR EACH ROW EXECUTE FUNCTION bump_version();

CREATE TABLE goals (
    id          uuid PRIMARY KEY,
    plan_id     uuid NOT NULL REFERENCES plans (id),
    parent_id   uuid,
    code        text CHECK (code ~ '^[0-9A-Za-z]+(\.[0-9A-Za-z]+)*$' AND char_length(code) <= 20),
    kind        text NOT NULL CHECK (kind IN ('objective', 'priority', 'theme', 'strategic_direction')),
    title       text COLLATE swedish NOT NULL CHECK (char_length(title) BETWEEN 1 AND 500),
    description text CHECK (char_length(description) <= 20000),
    position    integer NOT NULL DEFAULT 0 CHECK (position >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     integer NOT NULL DEFAULT 1,
    -- (plan_id, id) is the target of the composite keys that keep a goal's parent and an
    -- activity's goal inside the same plan.
    CONSTRAINT goals_plan_id_id_key UNIQUE (plan_id, id),
    CONSTRAINT goals_parent_same_plan_fkey FOREIGN KEY (plan_id, parent_id) REFERENCES goals (plan_id, id),
    CONSTRAINT goals_not_own_parent CHECK (parent_id <> id)
);
CREATE UNIQUE INDEX goals_plan_code_key ON goals (plan_id, code) WHERE code IS NOT NULL;
CREATE INDEX goals_parent_id_idx ON goals (parent_id);
CREATE INDEX goals_plan_position_idx ON goals (plan_id, position, id);
CREATE TRIGGER goals_bump_version BEFORE UPDATE ON goals FOR EACH ROW EXECUTE FUNCTION bump_version();

CREATE TABLE activities (
    id          uuid PRIMARY KEY,
    plan_id     uuid NOT NULL REFERENCES plans (id),
    goal_id     uuid NOT NULL,
    title       text COLLATE swedish NOT NULL CHECK (char_length(title) BETWEEN 1 AND 1000),
    description text CHECK (char_length(description) <= 20000),
    start_year  integer CHECK (start_year BETWEEN 1900 AND 2100),
    start_term  text CHECK (start_term IN ('spring', 'autumn')),
    end_year    integer CHECK (end_year BETWEEN 1900 AND 2100),
    recurrence  text NOT NULL DEFAULT 'none' CHECK (recurrence IN ('none', 'annual')),
    tags        text[] NOT NULL DEFAULT '{}' CHECK (array_position(tags, NULL) IS NULL AND cardinality(tags) <= 50),
    position    integer NOT NULL DEFAULT 0 CHECK (position >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     integer NOT NULL DEFAULT 1,
    CONSTRAINT activities_goal_same_plan_fkey FOREIGN KEY (plan_id, goal_id) REFERENCES goals (plan_id, id),
    CONSTRAINT activities_years_check CHECK (start_year IS NULL OR end_year IS NULL OR start_year <= end_year),
    CONSTRAINT activities_term_needs_year CHECK (start_term IS NULL OR start_year IS NOT NULL)
);
CREATE INDEX activities_plan_position_idx ON activities (plan_id, position, id);
CREATE INDEX activities_goal_id_idx ON activities (goal_id);
CREATE TRIGGER activities_bump_version BEFORE UPDATE ON activities FOR EACH ROW EXECUTE FUNCTION bump_version();

-- Goals other than the primary one that point at an activity (a strategic direction whose
-- activities live under another goal).
CREATE TABLE activity_goals (
    activity_id uuid NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    goal_id     uuid NOT NULL REFERENCES goals (id),
    PRIMARY KEY (activity_id, goal_id)
);
CREATE INDEX activity_goals_goal_id_idx ON activity_goals (goal_id);

-- A later plan that carries on an activity includes it instead of copying it, so the activity
-- keeps its identity and its follow-up history.
CREATE TABLE plan_activities (
    plan_id     uuid NOT NULL REFERENCES plans (id),
    activity_id uuid NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    PRIMARY KEY (plan_id, activity_id)
);
CREATE INDEX plan_activities_activity_id_idx ON plan_activities (activity_id);

CREATE TABLE actors (
    id                uuid PRIMARY KEY,
    name              text COLLATE swedish NOT NULL CHECK (char_length(name) BETWEEN 1 AND 300),
    kind              text NOT NULL CHECK (kind IN ('region', 'municipality', 'institution', 'unit', 'network', 'organisation', 'person')),
    municipality_code text CHECK (municipality_code ~ '^[0-9]{4}$'),
    parent_id         uuid REFERENCES actors (id),
    title             text CHECK (char_length(title) BETWEEN 1 AND 300),
    website           text CHECK (char_length(website) BETWEEN 1 AND 500),
    email             text CHECK (char_length(email) BETWEEN 3 AND 320 AND email LIKE '%_@_%'),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    version           integer NOT NULL DEFAULT 1,
    CONSTRAINT actors_municipality_code_key UNIQUE (municipality_code),
    CONSTRAINT actors_code_only_municipalities CHECK ((kind = 'municipality') = (municipality_code IS NOT NULL)),
    CONSTRAINT actors_title_only_persons CHECK (title IS NULL OR kind = 'person'),
    CONSTRAINT actors_not_own_parent CHECK (parent_id <> id)
);
CREATE INDEX actors_parent_id_idx ON actors (parent_id);
CREATE INDEX actors_kind_idx ON actors (kind);
CREATE INDEX actors_name_idx ON actors (name, id);
CREATE TRIGGER actors_bump_version BEFORE UPDATE ON actors FOR EACH ROW EXECUTE FUNCTION bump_version();

CREATE TABLE activity_actors (
    activity_id uuid NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    actor_id    uuid NOT NULL REFERENCES actors (id),
    role        text NOT NULL CHECK (role IN ('responsible', 'coordinator', 'convener', 'supporting', 'participant')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (activity_id, actor_id, role)
);
CREATE INDEX activity_actors_actor_id_idx ON activity_actors (actor_id, role);

CREATE TABLE follow_ups (
    id          uuid PRIMARY KEY,
    activity_id uuid NOT NULL REFERENCES activities (id),
    year        integer NOT NULL CHECK (year BETWEEN 1900 AND 2100),
    -- NULL: a note recorded without a colour (the source documents carry notes whose colour is lost).
    status      text CHECK (status IN ('planned', 'delayed', 'completed', 'ongoing')),
    comment     text CHECK (char_length(comment) <= 4000),
    reported_by text NOT NULL CHECK (char_length(reported_by) BETWEEN 1 AND 200),
    reported_at timestamptz NOT NULL DEFAULT now(),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     integer NOT NULL DEFAULT 1,
    CONSTRAINT follow_ups_activity_year_key UNIQUE (activity_id, year),
    CONSTRAINT follow_ups_status_or_comment CHECK (status IS NOT NULL OR comment IS NOT NULL)
);
CREATE INDEX follow_ups_year_status_idx ON follow_ups (year, status);
CREATE TRIGGER follow_ups_bump_version BEFORE UPDATE ON follow_ups FOR EACH ROW EXECUTE FUNCTION bump_version();

-- Every change of a follow-up: who, when, and the row before and after (NULL before = created,
-- NULL after = deleted). Kept when the follow-up itself is deleted.
CREATE TABLE follow_up_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    activity_id uuid NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    year        integer NOT NULL,
    changed_by  text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    before      jsonb,
    after       jsonb,
    CONSTRAINT follow_up_history_has_change CHECK (before IS NOT NULL OR after IS NOT NULL)
);
CREATE INDEX follow_up_history_activity_year_idx ON follow_up_history (activity_id, year, id);

CREATE TABLE api_clients (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    secret_hash text NOT NULL,
    scopes      text[] NOT NULL CHECK (scopes <@ ARRAY['read', 'plans:write', 'follow_ups:write', 'admin']::text[]),
    actor_id    uuid REFERENCES actors (id),
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     integer NOT NULL DEFAULT 1
);
CREATE INDEX api_clients_actor_id_idx ON api_clients (actor_id);
CREATE TRIGGER api_clients_bump_version BEFORE UPDATE ON api_clients FOR EACH ROW EXECUTE FUNCTION bump_version();

-- What `kulturplan seed` last wrote, so a later run can tell a row someone edited through the
-- API (its version moved on) from one it may update.
CREATE TABLE seed_rows (
    entity     text NOT NULL,
    id         uuid NOT NULL,
    version    integer NOT NULL,
    seeded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity, id)
);
