//! The domain's closed vocabularies (kinds, roles, statuses) as Rust enums, stored as checked text.

use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

/// Declares an enum that is snake_case on the wire and checked text in the database, with the
/// same spelling in both places.
macro_rules! text_enum {
    ($(#[doc = $doc:literal])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[doc = $doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
        )]
        #[diesel(sql_type = Text)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        // The schema is written from the same spellings as serde's: utoipa's derive does not
        // read a `rename` that comes from a macro fragment, and would document `plans_write`
        // for `plans:write`.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let doc: &[&str] = &[$($doc),*];
                let description = doc.iter().map(|line| line.trim()).collect::<Vec<_>>().join("\n");
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .description((!description.is_empty()).then_some(description))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown value `{other}`, expected one of: {}",
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl ToSql<Text, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                <str as ToSql<Text, Pg>>::to_sql(self.as_str(), out)
            }
        }

        impl FromSql<Text, Pg> for $name {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                let text = <String as FromSql<Text, Pg>>::from_sql(bytes)?;
                text.parse().map_err(Into::into)
            }
        }
    };
}

text_enum! {
    /// kulturplan, genomförandeplan or handlingsplan.
    PlanKind {
        CulturePlan = "culture_plan",
        ImplementationPlan = "implementation_plan",
        ActionPlan = "action_plan",
    }
}

text_enum! {
    PlanStatus { Draft = "draft", Adopted = "adopted", Archived = "archived" }
}

text_enum! {
    /// objective: övergripande mål / utvecklingsmål; priority: kulturpolitisk prioritering;
    /// theme: rubrik; strategic_direction: strategisk inriktning för samverkan.
    GoalKind {
        Objective = "objective",
        Priority = "priority",
        Theme = "theme",
        StrategicDirection = "strategic_direction",
    }
}

text_enum! {
    /// Påbörjas "Vt" (spring term) or "Ht" (autumn term).
    StartTerm { Spring = "spring", Autumn = "autumn" }
}

text_enum! {
    /// "görs årligen" makes an activity annual: one activity, one follow-up per year.
    Recurrence { None = "none", Annual = "annual" }
}

text_enum! {
    ActorKind {
        Region = "region",
        Municipality = "municipality",
        Institution = "institution",
        Unit = "unit",
        Network = "network",
        Organisation = "organisation",
        Person = "person",
    }
}

text_enum! {
    /// responsible: ansvar för handläggning; coordinator: samordnare; convener: sammankallande;
    /// supporting: med stöd av; participant: samverkan.
    Role {
        Responsible = "responsible",
        Coordinator = "coordinator",
        Convener = "convener",
        Supporting = "supporting",
        Participant = "participant",
    }
}

text_enum! {
    /// The four colours of the yearly follow-up: blue, red, green, yellow.
    FollowUpStatus {
        /// Blue: planned to start later.
        Planned = "planned",
        /// Red: not started in time, or significant difficulties within the plan period.
        Delayed = "delayed",
        /// Green: started and carried out during the year.
        Completed = "completed",
        /// Yellow: started but not finished during the year.
        Ongoing = "ongoing",
    }
}

impl FollowUpStatus {
    /// The colours of the plans' follow-up tables: the word a sheet writes, and the neuter form
    /// Swedish also uses ("blått").
    const COLOURS: [(FollowUpStatus, &'static str, &'static str); 4] = [
        (FollowUpStatus::Planned, "blå", "blått"),
        (FollowUpStatus::Delayed, "röd", "rött"),
        (FollowUpStatus::Completed, "grön", "grönt"),
        (FollowUpStatus::Ongoing, "gul", "gult"),
    ];

    /// The status of a colour name as the plans' follow-up tables write it (blå/blått, röd/rött,
    /// grön/grönt, gul/gult; any case), or of its API value.
    pub fn from_api_or_colour(text: &str) -> Option<Self> {
        let text = text.trim().to_lowercase();
        if let Ok(status) = text.parse() {
            return Some(status);
        }
        Self::COLOURS
            .iter()
            .find(|(_, colour, neuter)| text == *colour || text == *neuter)
            .map(|(status, ..)| *status)
    }

    /// The Swedish colour word of the status, as a follow-up sheet writes it.
    pub fn colour(self) -> &'static str {
        Self::COLOURS
            .iter()
            .find(|(status, ..)| *status == self)
            .map_or("", |(_, colour, _)| colour)
    }
}

text_enum! {
    /// Where a follow-up is in the yearly round: `submitted` when reported (again), then
    /// `approved` or `returned` with a note by a reviewer.
    ReviewState {
        Submitted = "submitted",
        Approved = "approved",
        Returned = "returned",
    }
}

text_enum! {
    /// What a token may do. `admin` may do everything.
    Scope {
        Read = "read",
        PlansWrite = "plans:write",
        FollowUpsWrite = "follow_ups:write",
        /// Approve and return follow-ups (the culture strategists' review).
        FollowUpsReview = "follow_ups:review",
        Admin = "admin",
    }
}

/// Years the service accepts anywhere (the database checks the same range).
pub const MIN_YEAR: i32 = 1900;
pub const MAX_YEAR: i32 = 2100;

/// Why a reported status does not fit the activity's dates (DESIGN: flagged, not refused).
pub fn status_warnings(
    start_year: Option<i32>,
    end_year: Option<i32>,
    recurrence: Recurrence,
    year: i32,
    status: Option<FollowUpStatus>,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(start) = start_year {
        if status == Some(FollowUpStatus::Planned) && year >= start {
            warnings.push(format!(
                "status `planned` for {year}, but the activity starts in {start}: planned means it starts later"
            ));
        }
        if year < start && status.is_some_and(|s| s != FollowUpStatus::Planned) {
            warnings.push(format!(
                "a status for {year}, before the activity starts in {start}"
            ));
        }
    }
    if let Some(end) = end_year
        && recurrence == Recurrence::None
        && year > end
    {
        warnings.push(format!(
            "a status for {year}, after the activity ended in {end}"
        ));
    }
    warnings
}
