-- What a page of the activity list reads, kept by triggers so that a page costs about the rows it
-- returns: the goals each activity is listed under (for the goal filter, in page order), and each
-- activity's actors with their roles, in the order they are shown. The triggers are named to fire
-- after `log_change`, so a writer holds the data-version row before it touches these rows.

-- Every goal an activity is listed under — its own goal and the goals linked to it, and every goal
-- above those — with the activity's place in the list's default order (plan, position, id). The
-- filter `goal_id` (the goal, every goal below it, and the activities linked to any of them) is
-- then one range of `goal_activities_order_idx`, read in page order and stopped at the page's end.
CREATE TABLE goal_activities (
    activity_id uuid NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    goal_id     uuid NOT NULL REFERENCES goals (id) ON DELETE CASCADE,
    plan_id     uuid NOT NULL,
    position    integer NOT NULL,
    PRIMARY KEY (activity_id, goal_id)
);
CREATE INDEX goal_activities_order_idx ON goal_activities (goal_id, plan_id, position, activity_id);

-- A goal and every goal above it. UNION (not UNION ALL) ends the walk even on a cycle, as the
-- list's former downward walk did.
CREATE FUNCTION goal_and_ancestors(goal uuid) RETURNS SETOF uuid LANGUAGE sql STABLE AS $$
    WITH RECURSIVE up(id, parent_id) AS (
        SELECT id, parent_id FROM goals WHERE id = goal
        UNION
        SELECT g.id, g.parent_id FROM goals g JOIN up ON g.id = up.parent_id)
    SELECT id FROM up
$$;

-- The rows `goal_activities` should hold for some activities, computed afresh.
CREATE FUNCTION goal_activity_rows(ids uuid[])
RETURNS TABLE (activity_id uuid, goal_id uuid, plan_id uuid, "position" integer)
LANGUAGE sql STABLE AS $$
    SELECT DISTINCT a.id, up.id, a.plan_id, a.position
    FROM activities a
    CROSS JOIN LATERAL (SELECT a.goal_id UNION SELECT ag.goal_id FROM activity_goals ag
                        WHERE ag.activity_id = a.id) listed(goal_id)
    CROSS JOIN LATERAL goal_and_ancestors(listed.goal_id) up(id)
    WHERE a.id = ANY (ids)
$$;

CREATE FUNCTION refresh_goal_activities(ids uuid[]) RETURNS void LANGUAGE sql AS $$
    DELETE FROM goal_activities WHERE activity_id = ANY (ids);
    INSERT INTO goal_activities (activity_id, goal_id, plan_id, position)
    SELECT * FROM goal_activity_rows(ids) ORDER BY 1, 2;
$$;

-- Each activity's actors as the list shows them (`embed=actors`): by role, then the actor's name
-- in Swedish order, then id; each element `{"role", "actor"}` with the actor's whole row. An
-- activity without actors has no row.
CREATE TABLE activity_actor_lists (
    activity_id uuid PRIMARY KEY REFERENCES activities (id) ON DELETE CASCADE,
    actors      jsonb NOT NULL
);

CREATE FUNCTION actor_list_rows(ids uuid[]) RETURNS TABLE (activity_id uuid, actors jsonb)
LANGUAGE sql STABLE AS $$
    SELECT aa.activity_id,
           jsonb_agg(jsonb_build_object('role', aa.role, 'actor', to_jsonb(ac))
                     ORDER BY aa.role, ac.name, ac.id)
    FROM activity_actors aa JOIN actors ac ON ac.id = aa.actor_id
    WHERE aa.activity_id = ANY (ids)
    GROUP BY aa.activity_id
$$;

CREATE FUNCTION refresh_actor_lists(ids uuid[]) RETURNS void LANGUAGE sql AS $$
    DELETE FROM activity_actor_lists WHERE activity_id = ANY (ids);
    INSERT INTO activity_actor_lists (activity_id, actors)
    SELECT * FROM actor_list_rows(ids) ORDER BY 1;
$$;

-- New activities, a statement at a time (a seed or a load inserts thousands at once).
CREATE FUNCTION kept_lists_of_new_activities() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM refresh_goal_activities(ARRAY(SELECT id FROM new_activities));
    RETURN NULL;
END $$;
CREATE TRIGGER activities_refresh_lists_insert AFTER INSERT ON activities
    REFERENCING NEW TABLE AS new_activities
    FOR EACH STATEMENT EXECUTE FUNCTION kept_lists_of_new_activities();

-- An activity moved to another goal, plan or position.
CREATE FUNCTION kept_lists_of_moved_activity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM refresh_goal_activities(ARRAY[NEW.id]);
    RETURN NULL;
END $$;
CREATE TRIGGER activities_refresh_lists_update AFTER UPDATE OF plan_id, goal_id, position ON activities
    FOR EACH ROW WHEN (OLD.plan_id IS DISTINCT FROM NEW.plan_id OR OLD.goal_id IS DISTINCT FROM NEW.goal_id
                       OR OLD.position IS DISTINCT FROM NEW.position)
    EXECUTE FUNCTION kept_lists_of_moved_activity();

-- Linked goals change a statement at a time.
CREATE FUNCTION kept_lists_of_changed_goal_links() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM refresh_goal_activities(ARRAY(SELECT DISTINCT activity_id FROM changed_links));
    RETURN NULL;
END $$;
CREATE TRIGGER activity_goals_refresh_lists_insert AFTER INSERT ON activity_goals
    REFERENCING NEW TABLE AS changed_links
    FOR EACH STATEMENT EXECUTE FUNCTION kept_lists_of_changed_goal_links();
CREATE TRIGGER activity_goals_refresh_lists_delete AFTER DELETE ON activity_goals
    REFERENCING OLD TABLE AS changed_links
    FOR EACH STATEMENT EXECUTE FUNCTION kept_lists_of_changed_goal_links();

CREATE FUNCTION kept_lists_of_updated_goal_link() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM refresh_goal_activities(ARRAY[OLD.activity_id, NEW.activity_id]);
    RETURN NULL;
END $$;
CREATE TRIGGER activity_goals_refresh_lists_update AFTER UPDATE ON activity_goals
    FOR EACH ROW EXECUTE FUNCTION kept_lists_of_updated_goal_link();

-- A goal moved in its tree changes the goals above every activity listed under it.
CREATE FUNCTION kept_lists_of_moved_goal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM refresh_goal_activities(ARRAY(SELECT activity_id FROM goal_activities WHERE goal_id = NEW.id));
    RETURN NULL;
END $$;
CREATE TRIGGER goals_refresh_lists_update AFTER UPDATE OF parent_id ON goals
    FOR EACH ROW WHEN (OLD.parent_id IS DISTINCT FROM NEW.parent_id)
    EXECUTE FUNCTION kept_lists_of_moved_goal();

-- Actor links change a statement at a time (a role list replaced, a seed or an import loaded).
CREATE FUNCTION kept_lists_of_changed_actor_links() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM refresh_actor_lists(ARRAY(SELECT DISTINCT activity_id FROM changed_links));
    RETURN NULL;
END $$;
CREATE TRIGGER activity_actors_refresh_lists_insert AFTER INSERT ON activity_actors
    REFERENCING NEW TABLE AS changed_links
    FOR EACH STATEMENT EXECUTE FUNCTION kept_lists_of_changed_actor_links();
CREATE TRIGGER activity_actors_refresh_lists_delete AFTER DELETE ON activity_actors
    REFERENCING OLD TABLE AS changed_links
    FOR EACH STATEMENT EXECUTE FUNCTION kept_lists_of_changed_actor_links();

CREATE FUNCTION kept_lists_of_updated_actor_link() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM refresh_actor_lists(ARRAY[OLD.activity_id, NEW.activity_id]);
    RETURN NULL;
END $$;
CREATE TRIGGER activity_actors_refresh_lists_update AFTER UPDATE ON activity_actors
    FOR EACH ROW EXECUTE FUNCTION kept_lists_of_updated_actor_link();

-- Any change of an actor (its name orders the lists; its whole row is shown in them).
CREATE FUNCTION kept_lists_of_changed_actor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM refresh_actor_lists(ARRAY(SELECT DISTINCT activity_id FROM activity_actors WHERE actor_id = NEW.id));
    RETURN NULL;
END $$;
CREATE TRIGGER actors_refresh_lists_update AFTER UPDATE ON actors
    FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW)
    EXECUTE FUNCTION kept_lists_of_changed_actor();

SELECT refresh_goal_activities(ARRAY(SELECT id FROM activities));
SELECT refresh_actor_lists(ARRAY(SELECT id FROM activities));
