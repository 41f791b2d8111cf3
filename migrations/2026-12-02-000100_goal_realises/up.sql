-- A goal of an implementation plan realises a goal of the plan it implements (the culture
-- plan's objective "Utveckla den kulturella infrastrukturen" is carried out under the
-- implementation plan's 4.1 of the same title), so the culture plan's reports can count the
-- activities under its own goals.
ALTER TABLE goals ADD COLUMN realises_goal_id uuid REFERENCES goals (id);
CREATE INDEX goals_realises_goal_id_idx ON goals (realises_goal_id);

-- The realised goal belongs to the parent of the goal's plan. A composite key cannot say
-- "the parent plan", so triggers hold the rule on both sides: the goal that realises, and the
-- plan whose parent would change under it.
CREATE FUNCTION check_goal_realises() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.realises_goal_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM goals r JOIN plans p ON p.parent_id = r.plan_id
        WHERE r.id = NEW.realises_goal_id AND p.id = NEW.plan_id) THEN
        RAISE EXCEPTION 'goal % realises goal %, which is not a goal of the plan its plan implements',
            NEW.id, NEW.realises_goal_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'goals_realises_parent_plan_goal';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER goals_realises_check BEFORE INSERT OR UPDATE OF realises_goal_id, plan_id ON goals
    FOR EACH ROW WHEN (NEW.realises_goal_id IS NOT NULL) EXECUTE FUNCTION check_goal_realises();

CREATE FUNCTION check_plan_realisations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM goals g JOIN goals r ON r.id = g.realises_goal_id
               WHERE g.plan_id = NEW.id AND r.plan_id IS DISTINCT FROM NEW.parent_id) THEN
        RAISE EXCEPTION 'plan % has goals that realise goals of the plan it implements', NEW.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'plans_parent_keeps_realised_goals';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER plans_realisations_check BEFORE UPDATE OF parent_id ON plans
    FOR EACH ROW WHEN (OLD.parent_id IS DISTINCT FROM NEW.parent_id)
    EXECUTE FUNCTION check_plan_realisations();
