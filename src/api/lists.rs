//! The pages of the lists, one named type per item type: a generated client gets `ActivityList`
//! holding `Activity` items, where a generic page would give it an anonymous copy of the item.

use serde::Serialize;
use utoipa::ToSchema;

use super::activities::Activity;
use super::actors::Actor;
use super::clients::Client;
use super::follow_ups::FollowUp;
use super::goals::Goal;
use super::plans::Plan;

macro_rules! list_page {
    ($(#[doc = $doc:literal])* $name:ident of $item:ident) => {
        $(#[doc = $doc])*
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// Pass as `cursor` to get the next page; null on the last page.
            #[schema(required = true)]
            pub next_cursor: Option<String>,
            /// How many items match in all, when asked for with `count=true`.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub total: Option<i64>,
        }

        impl $name {
            pub fn new(items: Vec<$item>, next_cursor: Option<String>) -> Self {
                $name {
                    items,
                    next_cursor,
                    total: None,
                }
            }
        }
    };
}

list_page! {
    /// A page of activities.
    ActivityList of Activity
}
list_page! {
    /// A page of actors.
    ActorList of Actor
}
list_page! {
    /// A page of integration clients.
    ClientList of Client
}
list_page! {
    /// A page of follow-ups.
    FollowUpList of FollowUp
}
list_page! {
    /// A page of goals.
    GoalList of Goal
}
list_page! {
    /// A page of plans.
    PlanList of Plan
}
