-- What the collaboration matrix needs of each activity, kept by triggers: its plan, the top-level
-- goal above its goal, and the municipalities taking part in it (any role, each once). The plans'
-- matrices below are kept from these rows; a report reads them directly only for the activities
-- a plan carries on from another (by `activity_id`).
CREATE TABLE activity_facets (
    activity_id    uuid PRIMARY KEY REFERENCES activities (id) ON DELETE CASCADE,
    plan_id        uuid NOT NULL,
    top_goal_id    uuid NOT NULL,
    municipalities uuid[] NOT NULL DEFAULT '{}'
);

-- The matrix of each plan's own activities, kept from the facets: a plan's matrix is the sum of
-- its plans' rows, whatever the number of activities. Cells: activities of the plan under the
-- top-level goal that the municipality takes part in. Columns: activities under the goal, those
-- with a municipality, and (municipality, activity) pairs.
CREATE TABLE plan_matrix_cells (
    plan_id     uuid NOT NULL,
    top_goal_id uuid NOT NULL,
    actor_id    uuid NOT NULL,
    activities  integer NOT NULL,
    PRIMARY KEY (plan_id, top_goal_id, actor_id)
);
CREATE TABLE plan_matrix_columns (
    plan_id           uuid NOT NULL,
    top_goal_id       uuid NOT NULL,
    activities        integer NOT NULL,
    with_municipality integer NOT NULL,
    participations    integer NOT NULL,
    PRIMARY KEY (plan_id, top_goal_id)
);

-- Adds (`sign` 1) or takes away (-1) one activity's facets from its plan's matrix. A plan's
-- matrix rows are shared by all its writers, so they are taken only after the data-version row,
-- which every writing transaction holds from its first change to its commit: writers meet there
-- first and cannot deadlock here. The `log_change` triggers usually hold it already (they fire
-- before the `*_matrix_*` triggers by name); a cascade from a deleted activity can come first.
CREATE FUNCTION count_in_matrix(plan uuid, top uuid, municipalities uuid[], sign integer)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO plan_matrix_columns AS c
        (plan_id, top_goal_id, activities, with_municipality, participations)
    VALUES (plan, top, sign, CASE WHEN cardinality(municipalities) > 0 THEN sign ELSE 0 END,
            sign * cardinality(municipalities))
    ON CONFLICT (plan_id, top_goal_id) DO UPDATE SET
        activities = c.activities + excluded.activities,
        with_municipality = c.with_municipality + excluded.with_municipality,
        participations = c.participations + excluded.participations;
    INSERT INTO plan_matrix_cells AS c (plan_id, top_goal_id, actor_id, activities)
    SELECT plan, top, m, sign FROM unnest(municipalities) m ORDER BY m
    ON CONFLICT (plan_id, top_goal_id, actor_id) DO UPDATE SET activities = c.activities + excluded.activities;
    DELETE FROM plan_matrix_cells WHERE sign < 0 AND plan_id = plan AND top_goal_id = top AND activities = 0;
    DELETE FROM plan_matrix_columns WHERE sign < 0 AND plan_id = plan AND top_goal_id = top AND activities = 0;
$$;

CREATE FUNCTION count_facets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM data_version FOR NO KEY UPDATE;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM count_in_matrix(OLD.plan_id, OLD.top_goal_id, OLD.municipalities, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM count_in_matrix(NEW.plan_id, NEW.top_goal_id, NEW.municipalities, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER activity_facets_count_insert AFTER INSERT ON activity_facets
    FOR EACH ROW EXECUTE FUNCTION count_facets();
CREATE TRIGGER activity_facets_count_update AFTER UPDATE ON activity_facets
    FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW) EXECUTE FUNCTION count_facets();
CREATE TRIGGER activity_facets_count_delete AFTER DELETE ON activity_facets
    FOR EACH ROW EXECUTE FUNCTION count_facets();

-- The top-level goal above a goal (the goal itself at the top).
CREATE FUNCTION goal_top(goal uuid) RETURNS uuid LANGUAGE sql STABLE AS $$
    WITH RECURSIVE up(id, parent_id, depth) AS (
        SELECT id, parent_id, 0 FROM goals WHERE id = goal
        UNION ALL
        SELECT g.id, g.parent_id, u.depth + 1 FROM goals g JOIN up u ON g.id = u.parent_id
        WHERE u.depth < 50)
    SELECT id FROM up WHERE parent_id IS NULL
$$;

-- The municipalities with a role in an activity, in id order, each once.
CREATE FUNCTION activity_municipalities(activity uuid) RETURNS uuid[] LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(DISTINCT aa.actor_id ORDER BY aa.actor_id), '{}')
    FROM activity_actors aa JOIN actors ac ON ac.id = aa.actor_id
    WHERE aa.activity_id = activity AND ac.kind = 'municipality'
$$;

CREATE FUNCTION facets_of_new_activity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO activity_facets (activity_id, plan_id, top_goal_id)
    VALUES (NEW.id, NEW.plan_id, goal_top(NEW.goal_id));
    RETURN NULL;
END $$;
CREATE TRIGGER activities_matrix_insert AFTER INSERT ON activities
    FOR EACH ROW EXECUTE FUNCTION facets_of_new_activity();

CREATE FUNCTION facets_of_moved_activity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE activity_facets SET plan_id = NEW.plan_id, top_goal_id = goal_top(NEW.goal_id)
    WHERE activity_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER activities_matrix_update AFTER UPDATE OF plan_id, goal_id ON activities
    FOR EACH ROW WHEN (OLD.plan_id IS DISTINCT FROM NEW.plan_id OR OLD.goal_id IS DISTINCT FROM NEW.goal_id)
    EXECUTE FUNCTION facets_of_moved_activity();

-- Links change a statement at a time (a role list replaced, a seed or an import loaded): the
-- activities touched are refreshed once each.
CREATE FUNCTION facets_of_changed_links() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE activity_facets f SET municipalities = activity_municipalities(f.activity_id)
    WHERE f.activity_id IN (SELECT DISTINCT activity_id FROM changed_links);
    RETURN NULL;
END $$;
CREATE TRIGGER activity_actors_matrix_insert AFTER INSERT ON activity_actors
    REFERENCING NEW TABLE AS changed_links
    FOR EACH STATEMENT EXECUTE FUNCTION facets_of_changed_links();
CREATE TRIGGER activity_actors_matrix_delete AFTER DELETE ON activity_actors
    REFERENCING OLD TABLE AS changed_links
    FOR EACH STATEMENT EXECUTE FUNCTION facets_of_changed_links();

CREATE FUNCTION facets_of_updated_link() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE activity_facets f SET municipalities = activity_municipalities(f.activity_id)
    WHERE f.activity_id IN (OLD.activity_id, NEW.activity_id);
    RETURN NULL;
END $$;
CREATE TRIGGER activity_actors_matrix_update AFTER UPDATE OF activity_id, actor_id ON activity_actors
    FOR EACH ROW EXECUTE FUNCTION facets_of_updated_link();

-- A goal moved in its tree moves the top-level goal of the activities below it: those of its
-- plan are refreshed, from one walk of the plan's goal tree.
CREATE FUNCTION facets_of_moved_goal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH RECURSIVE top(goal_id, top_id, depth) AS (
        SELECT id, id, 0 FROM goals WHERE plan_id IN (OLD.plan_id, NEW.plan_id) AND parent_id IS NULL
        UNION ALL
        SELECT g.id, t.top_id, t.depth + 1 FROM goals g JOIN top t ON g.parent_id = t.goal_id
        WHERE t.depth < 50)
    UPDATE activity_facets f SET top_goal_id = t.top_id
    FROM activities a JOIN top t ON t.goal_id = a.goal_id
    WHERE a.id = f.activity_id AND a.plan_id IN (OLD.plan_id, NEW.plan_id)
      AND f.top_goal_id IS DISTINCT FROM t.top_id;
    RETURN NULL;
END $$;
CREATE TRIGGER goals_matrix_update AFTER UPDATE OF parent_id, plan_id ON goals
    FOR EACH ROW WHEN (OLD.parent_id IS DISTINCT FROM NEW.parent_id OR OLD.plan_id IS DISTINCT FROM NEW.plan_id)
    EXECUTE FUNCTION facets_of_moved_goal();

-- An actor that becomes a municipality, or stops being one.
CREATE FUNCTION facets_of_changed_actor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE activity_facets f SET municipalities = activity_municipalities(f.activity_id)
    WHERE f.activity_id IN (SELECT activity_id FROM activity_actors WHERE actor_id = NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER actors_matrix_update AFTER UPDATE OF kind ON actors
    FOR EACH ROW WHEN (OLD.kind IS DISTINCT FROM NEW.kind)
    EXECUTE FUNCTION facets_of_changed_actor();

INSERT INTO activity_facets (activity_id, plan_id, top_goal_id, municipalities)
SELECT a.id, a.plan_id, goal_top(a.goal_id), activity_municipalities(a.id) FROM activities a;
