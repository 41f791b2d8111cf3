-- What the collaboration matrix reads of each activity, kept by triggers: its plan, the top-level
-- goal above its goal, and the municipalities taking part in it (any role, each once). A matrix
-- is then one pass over its plans' activities, not joins over every municipality's links.
CREATE TABLE activity_facets (
    activity_id    uuid PRIMARY KEY REFERENCES activities (id) ON DELETE CASCADE,
    plan_id        uuid NOT NULL,
    top_goal_id    uuid NOT NULL,
    municipalities uuid[] NOT NULL DEFAULT '{}'
);
CREATE INDEX activity_facets_plan_id_idx ON activity_facets (plan_id);

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
CREATE TRIGGER activities_facets_insert AFTER INSERT ON activities
    FOR EACH ROW EXECUTE FUNCTION facets_of_new_activity();

CREATE FUNCTION facets_of_moved_activity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE activity_facets SET plan_id = NEW.plan_id, top_goal_id = goal_top(NEW.goal_id)
    WHERE activity_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER activities_facets_update AFTER UPDATE OF plan_id, goal_id ON activities
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
CREATE TRIGGER activity_actors_facets_insert AFTER INSERT ON activity_actors
    REFERENCING NEW TABLE AS changed_links
    FOR EACH STATEMENT EXECUTE FUNCTION facets_of_changed_links();
CREATE TRIGGER activity_actors_facets_delete AFTER DELETE ON activity_actors
    REFERENCING OLD TABLE AS changed_links
    FOR EACH STATEMENT EXECUTE FUNCTION facets_of_changed_links();

CREATE FUNCTION facets_of_updated_link() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE activity_facets f SET municipalities = activity_municipalities(f.activity_id)
    WHERE f.activity_id IN (OLD.activity_id, NEW.activity_id);
    RETURN NULL;
END $$;
CREATE TRIGGER activity_actors_facets_update AFTER UPDATE OF activity_id, actor_id ON activity_actors
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
CREATE TRIGGER goals_facets_update AFTER UPDATE OF parent_id, plan_id ON goals
    FOR EACH ROW WHEN (OLD.parent_id IS DISTINCT FROM NEW.parent_id OR OLD.plan_id IS DISTINCT FROM NEW.plan_id)
    EXECUTE FUNCTION facets_of_moved_goal();

-- An actor that becomes a municipality, or stops being one.
CREATE FUNCTION facets_of_changed_actor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE activity_facets f SET municipalities = activity_municipalities(f.activity_id)
    WHERE f.activity_id IN (SELECT activity_id FROM activity_actors WHERE actor_id = NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER actors_facets_update AFTER UPDATE OF kind ON actors
    FOR EACH ROW WHEN (OLD.kind IS DISTINCT FROM NEW.kind)
    EXECUTE FUNCTION facets_of_changed_actor();

INSERT INTO activity_facets (activity_id, plan_id, top_goal_id, municipalities)
SELECT a.id, a.plan_id, goal_top(a.goal_id), activity_municipalities(a.id) FROM activities a;
