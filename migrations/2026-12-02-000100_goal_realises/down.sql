DROP TRIGGER plans_realisations_check ON plans;
DROP FUNCTION check_plan_realisations();
DROP TRIGGER goals_realises_check ON goals;
DROP FUNCTION check_goal_realises();
ALTER TABLE goals DROP COLUMN realises_goal_id;
