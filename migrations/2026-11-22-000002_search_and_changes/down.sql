DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['plans', 'goals', 'activities', 'actors', 'activity_actors', 'activity_goals', 'plan_activities', 'follow_ups']
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %I', t || '_log_change', t);
    END LOOP;
END;
$$;
DROP FUNCTION log_change();
DROP TABLE changes;
DROP TABLE data_version;
DROP INDEX goals_title_trgm_idx;
DROP INDEX actors_name_trgm_idx;
DROP INDEX follow_ups_activity_year_idx;
DROP INDEX activities_updated_at_idx;
DROP INDEX activities_title_idx;
DROP INDEX activities_start_year_idx;
DROP INDEX activities_tags_idx;
DROP TRIGGER goals_search ON goals;
DROP FUNCTION goals_search_trigger();
DROP TRIGGER activities_search ON activities;
DROP FUNCTION activities_search_trigger();
DROP FUNCTION index_activity(activities);
DROP TABLE activity_search;
DROP COLLATION swedish_numeric;
DROP EXTENSION IF EXISTS pg_trgm;
