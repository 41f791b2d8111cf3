//! Diesel's view of the tables in `migrations/` (kept by hand; the migration test catches drift).

diesel::table! {
    plans (id) {
        id -> Uuid,
        title -> Text,
        kind -> Text,
        status -> Text,
        first_year -> Int4,
        last_year -> Int4,
        parent_id -> Nullable<Uuid>,
        reference -> Nullable<Text>,
        adopted_on -> Nullable<Date>,
        description -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    goals (id) {
        id -> Uuid,
        plan_id -> Uuid,
        parent_id -> Nullable<Uuid>,
        code -> Nullable<Text>,
        kind -> Text,
        title -> Text,
        description -> Nullable<Text>,
        position -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
        realises_goal_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    activities (id) {
        id -> Uuid,
        plan_id -> Uuid,
        goal_id -> Uuid,
        title -> Text,
        description -> Nullable<Text>,
        start_year -> Nullable<Int4>,
        start_term -> Nullable<Text>,
        end_year -> Nullable<Int4>,
        recurrence -> Text,
        tags -> Array<Text>,
        position -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    activity_goals (activity_id, goal_id) {
        activity_id -> Uuid,
        goal_id -> Uuid,
    }
}

diesel::table! {
    plan_activities (plan_id, activity_id) {
        plan_id -> Uuid,
        activity_id -> Uuid,
    }
}

diesel::table! {
    actors (id) {
        id -> Uuid,
        name -> Text,
        kind -> Text,
        municipality_code -> Nullable<Text>,
        parent_id -> Nullable<Uuid>,
        title -> Nullable<Text>,
        website -> Nullable<Text>,
        email -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    activity_actors (activity_id, actor_id, role) {
        activity_id -> Uuid,
        actor_id -> Uuid,
        role -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    follow_ups (id) {
        id -> Uuid,
        activity_id -> Uuid,
        year -> Int4,
        status -> Nullable<Text>,
        comment -> Nullable<Text>,
        reported_by -> Text,
        reported_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
        review -> Text,
        review_note -> Nullable<Text>,
        reviewed_by -> Nullable<Text>,
        reviewed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    follow_up_history (id) {
        id -> Int8,
        activity_id -> Uuid,
        year -> Int4,
        changed_by -> Text,
        changed_at -> Timestamptz,
        before -> Nullable<Jsonb>,
        after -> Nullable<Jsonb>,
    }
}

diesel::table! {
    api_clients (id) {
        id -> Uuid,
        name -> Text,
        secret_hash -> Text,
        scopes -> Array<Text>,
        actor_id -> Nullable<Uuid>,
        revoked_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    idempotency_keys (owner, key) {
        owner -> Text,
        key -> Text,
        request_hash -> Text,
        status -> Nullable<Int2>,
        body -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    seed_rows (entity, id) {
        entity -> Text,
        id -> Uuid,
        version -> Int4,
        seeded_at -> Timestamptz,
    }
}

diesel::joinable!(goals -> plans (plan_id));
diesel::joinable!(activities -> plans (plan_id));
diesel::joinable!(activities -> goals (goal_id));
diesel::joinable!(activity_goals -> activities (activity_id));
diesel::joinable!(activity_goals -> goals (goal_id));
diesel::joinable!(plan_activities -> activities (activity_id));
diesel::joinable!(plan_activities -> plans (plan_id));
diesel::joinable!(activity_actors -> activities (activity_id));
diesel::joinable!(activity_actors -> actors (actor_id));
diesel::joinable!(follow_ups -> activities (activity_id));
diesel::joinable!(api_clients -> actors (actor_id));

diesel::allow_tables_to_appear_in_same_query!(
    plans,
    goals,
    activities,
    activity_goals,
    plan_activities,
    actors,
    activity_actors,
    follow_ups,
    follow_up_history,
    api_clients,
    idempotency_keys,
    seed_rows,
);
