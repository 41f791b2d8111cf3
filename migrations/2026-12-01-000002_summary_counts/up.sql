-- The follow-up summary's counts per primary goal, kept by triggers, so that a summary reads a
-- few rows per goal instead of every activity of the plan with its follow-up.
--
-- Follow-ups per (plan, primary goal, year) of their activity, by bucket (the status, or
-- `no_status` for a note without a colour), whether the year is before the activity's start
-- (those are taken from `planned_derived`), and whether the status does not fit the activity's
-- dates (`flagged`, as in `domain::status_warnings`). Rows that fall to zero are kept.
CREATE TABLE goal_follow_up_counts (
    plan_id      uuid NOT NULL,
    goal_id      uuid NOT NULL,
    year         integer NOT NULL,
    bucket       text NOT NULL,
    before_start boolean NOT NULL,
    flagged      boolean NOT NULL,
    n            integer NOT NULL,
    PRIMARY KEY (plan_id, goal_id, year, bucket, before_start, flagged)
);

-- Activities per (plan, primary goal, start year); 0 stands for no start year.
CREATE TABLE goal_start_counts (
    plan_id    uuid NOT NULL,
    goal_id    uuid NOT NULL,
    start_year integer NOT NULL,
    n          integer NOT NULL,
    PRIMARY KEY (plan_id, goal_id, start_year)
);

-- A follow-up's place in the counts, given its activity's dates.
CREATE FUNCTION follow_up_before_start(start_year integer, year integer) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT coalesce(start_year > year, false) $$;

CREATE FUNCTION follow_up_flagged(status text, start_year integer, end_year integer,
                                  recurrence text, year integer) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce((status = 'planned' AND start_year <= year)
                    OR (status <> 'planned' AND start_year > year)
                    OR (recurrence = 'none' AND end_year < year), false)
$$;

-- Counts follow-ups in (`sign` 1) or out of (-1) the counts, with their activities' dates.
CREATE FUNCTION count_follow_ups(changed follow_ups[], sign integer) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO goal_follow_up_counts AS c
        (plan_id, goal_id, year, bucket, before_start, flagged, n)
    SELECT a.plan_id, a.goal_id, r.year, coalesce(r.status, 'no_status'),
           follow_up_before_start(a.start_year, r.year),
           follow_up_flagged(r.status, a.start_year, a.end_year, a.recurrence, r.year),
           sign * count(*)
    FROM unnest(changed) r JOIN activities a ON a.id = r.activity_id
    GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (plan_id, goal_id, year, bucket, before_start, flagged)
    DO UPDATE SET n = c.n + excluded.n;
$$;

-- Follow-ups change a statement at a time (a batch, an import, an upsert): each statement's rows
-- are counted in one grouped upsert. A statement trigger fires also when no row changed; it then
-- does nothing, and takes no lock. When rows changed, their `log_change` triggers have taken the
-- data-version row, which every writing transaction holds to its commit, so writers meet there
-- before they meet at these shared counts.
CREATE FUNCTION count_follow_up_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        -- Only a changed activity, year or status moves a count.
        IF NOT EXISTS (SELECT 1 FROM old_rows o JOIN new_rows r ON r.id = o.id
                       WHERE (o.activity_id, o.year, o.status) IS DISTINCT FROM
                             (r.activity_id, r.year, r.status)) THEN
            RETURN NULL;
        END IF;
    ELSIF TG_OP = 'INSERT' THEN
        IF NOT EXISTS (SELECT 1 FROM new_rows) THEN
            RETURN NULL;
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM old_rows) THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM data_version FOR NO KEY UPDATE;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM count_follow_ups(ARRAY(SELECT o::follow_ups FROM old_rows o), -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM count_follow_ups(ARRAY(SELECT r::follow_ups FROM new_rows r), 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER follow_ups_summary_insert AFTER INSERT ON follow_ups
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_follow_up_rows();
CREATE TRIGGER follow_ups_summary_update AFTER UPDATE ON follow_ups
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_follow_up_rows();
CREATE TRIGGER follow_ups_summary_delete AFTER DELETE ON follow_ups
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_follow_up_rows();

-- An activity counted in (`sign` 1) or out of (-1) the counts with the given attributes: its
-- start year and its follow-ups.
CREATE FUNCTION count_activity(activity uuid, plan uuid, goal uuid, starts integer,
                               ends integer, recurs text, sign integer)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO goal_start_counts AS c (plan_id, goal_id, start_year, n)
    VALUES (plan, goal, coalesce(starts, 0), sign)
    ON CONFLICT (plan_id, goal_id, start_year) DO UPDATE SET n = c.n + excluded.n;
    INSERT INTO goal_follow_up_counts AS c
        (plan_id, goal_id, year, bucket, before_start, flagged, n)
    SELECT plan, goal, f.year, coalesce(f.status, 'no_status'),
           follow_up_before_start(starts, f.year),
           follow_up_flagged(f.status, starts, ends, recurs, f.year),
           sign * count(*)
    FROM follow_ups f WHERE f.activity_id = activity
    GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (plan_id, goal_id, year, bucket, before_start, flagged)
    DO UPDATE SET n = c.n + excluded.n;
$$;

CREATE FUNCTION count_activity_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM data_version FOR NO KEY UPDATE;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM count_activity(OLD.id, OLD.plan_id, OLD.goal_id, OLD.start_year, OLD.end_year,
                               OLD.recurrence, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM count_activity(NEW.id, NEW.plan_id, NEW.goal_id, NEW.start_year, NEW.end_year,
                               NEW.recurrence, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER activities_summary_insert AFTER INSERT ON activities
    FOR EACH ROW EXECUTE FUNCTION count_activity_rows();
CREATE TRIGGER activities_summary_update
    AFTER UPDATE OF plan_id, goal_id, start_year, end_year, recurrence ON activities
    FOR EACH ROW WHEN (OLD.plan_id IS DISTINCT FROM NEW.plan_id
                       OR OLD.goal_id IS DISTINCT FROM NEW.goal_id
                       OR OLD.start_year IS DISTINCT FROM NEW.start_year
                       OR OLD.end_year IS DISTINCT FROM NEW.end_year
                       OR OLD.recurrence IS DISTINCT FROM NEW.recurrence)
    EXECUTE FUNCTION count_activity_rows();
CREATE TRIGGER activities_summary_delete AFTER DELETE ON activities
    FOR EACH ROW EXECUTE FUNCTION count_activity_rows();

INSERT INTO goal_start_counts (plan_id, goal_id, start_year, n)
SELECT plan_id, goal_id, coalesce(start_year, 0), count(*) FROM activities GROUP BY 1, 2, 3;
INSERT INTO goal_follow_up_counts (plan_id, goal_id, year, bucket, before_start, flagged, n)
SELECT a.plan_id, a.goal_id, f.year, coalesce(f.status, 'no_status'),
       follow_up_before_start(a.start_year, f.year),
       follow_up_flagged(f.status, a.start_year, a.end_year, a.recurrence, f.year), count(*)
FROM follow_ups f JOIN activities a ON a.id = f.activity_id
GROUP BY 1, 2, 3, 4, 5, 6;
