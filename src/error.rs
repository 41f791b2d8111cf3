//! The one error type of the API, answered as an RFC 9457 `application/problem+json` document.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One offending field of a request.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct FieldError {
    /// JSON path of the field (`title`, `items[3].year`, or a query parameter's name).
    #[schema(example = "first_year")]
    pub field: String,
    #[schema(example = "must be between 1900 and 2100")]
    pub message: String,
    /// Position of the item in a batch request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// Line of a CSV upload (the header is row 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            index: None,
            row: None,
        }
    }
}

/// RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "/problems/validation",
    "title": "The request is not valid",
    "status": 422,
    "detail": "1 field is not valid",
    "errors": [{"field": "first_year", "message": "must be between 1900 and 2100"}]
}))]
pub struct Problem {
    /// Stable identifier of the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// Malformed parts of the request, each named (an unknown query parameter).
    #[error("{} malformed part(s)", .0.len())]
    Malformed(Vec<FieldError>),
    #[error("authentication required: {0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The path exists, the method does not; the methods it has.
    #[error("{method} is not an operation of {path}; it has {}", .allowed.join(", "))]
    MethodNotAllowed {
        method: String,
        path: String,
        allowed: Vec<&'static str>,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("the resource changed since it was read")]
    PreconditionFailed,
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    HeadersTooLarge(String),
    #[error("{} invalid field(s)", .0.len())]
    Validation(Vec<FieldError>),
    #[error("the database is not available")]
    Unavailable,
    /// The connection broke while a write was committing and the database could not be asked
    /// afterwards whether it committed.
    #[error(
        "the connection to the database broke while the write was being committed, and whether \
         it was applied could not be learned; read the resource to see, or retry (a batch with \
         the same Idempotency-Key)"
    )]
    OutcomeUnknown,
    #[error("internal error: {0}")]
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

/// PostgreSQL's text cannot hold the NUL character; JSON can.
pub const NUL_MESSAGE: &str = "must not contain the NUL character (U+0000)";

const CONCURRENT_CHANGE: &str = "a concurrent change conflicted with this one; retry";

impl ApiError {
    pub fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        ApiError::NotFound(format!("{what} {id} does not exist"))
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        ApiError::Internal(err.to_string())
    }

    /// A concurrent transaction got in the way (serialization failure, deadlock, a row deleted
    /// mid-write): nothing was written and the same request may simply be retried.
    pub fn concurrent_change() -> Self {
        ApiError::Conflict(CONCURRENT_CHANGE.into())
    }

    /// Whether retrying the whole transaction may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ApiError::Conflict(message) if message == CONCURRENT_CHANGE)
    }

    fn slug_and_title(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) | ApiError::Malformed(_) => {
                ("bad-request", "The request is malformed")
            }
            ApiError::Unauthorized(_) => ("unauthorized", "Authentication required"),
            ApiError::Forbidden(_) => ("forbidden", "Not allowed"),
            ApiError::NotFound(_) => ("not-found", "Not found"),
            ApiError::MethodNotAllowed { .. } => ("method-not-allowed", "Method not allowed"),
            ApiError::Conflict(_) => ("conflict", "Conflict with the current state"),
            ApiError::PreconditionFailed => ("precondition-failed", "Precondition failed"),
            ApiError::PayloadTooLarge(_) => ("payload-too-large", "The request body is too large"),
            ApiError::UnsupportedMediaType(_) => {
                ("unsupported-media-type", "Unsupported media type")
            }
            ApiError::HeadersTooLarge(_) => (
                "headers-too-large",
                "The request's header fields are too large",
            ),
            ApiError::Validation(_) => ("validation", "The request is not valid"),
            ApiError::Unavailable => ("unavailable", "Service temporarily unavailable"),
            ApiError::OutcomeUnknown => ("outcome-unknown", "Outcome of the write unknown"),
            ApiError::Internal(_) => ("internal", "Internal server error"),
        }
    }

    pub fn problem(&self) -> Problem {
        let (slug, title) = self.slug_and_title();
        let detail = match self {
            // Internal causes stay in the log; the client learns only that it was not its fault.
            ApiError::Internal(_) => "An unexpected error occurred; it has been logged.".to_owned(),
            ApiError::Unauthorized(reason) => {
                format!("A valid bearer token is required: {reason}.")
            }
            ApiError::Validation(errors) | ApiError::Malformed(errors) if errors.len() == 1 => {
                format!("`{}` {}", errors[0].field, errors[0].message)
            }
            ApiError::Validation(errors) => format!("{} fields are not valid", errors.len()),
            ApiError::Malformed(errors) => format!("{} parts are malformed", errors.len()),
            other => other.to_string(),
        };
        Problem {
            kind: format!("/problems/{slug}"),
            title: title.to_owned(),
            status: self.status_code().as_u16(),
            detail,
            errors: match self {
                ApiError::Validation(errors) | ApiError::Malformed(errors) => errors.clone(),
                _ => Vec::new(),
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::Malformed(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable | ApiError::OutcomeUnknown => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = %cause, "request failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        match self {
            ApiError::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"kulturplan\""));
            }
            ApiError::Unavailable | ApiError::OutcomeUnknown => {
                response.insert_header((header::RETRY_AFTER, "5"));
            }
            ApiError::MethodNotAllowed { allowed, .. } => {
                response.insert_header((header::ALLOW, allowed.join(", ")));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

/// Human names for the constraints whose violation a client can cause, so a 409/422 says what
/// is wrong in the domain's words rather than the schema's.
fn constraint_message(constraint: &str) -> Option<(&'static str, &'static str)> {
    Some(match constraint {
        "actors_municipality_code_key" => ("municipality_code", "is already used by another actor"),
        "actors_code_only_municipalities" => (
            "municipality_code",
            "is required for municipalities and only for them",
        ),
        "actors_title_only_persons" => ("title", "is only for persons"),
        "goals_plan_code_key" => ("code", "is already used by another goal of this plan"),
        "goals_parent_same_plan_fkey" => ("parent_id", "must be a goal of the same plan"),
        "activities_goal_same_plan_fkey" => ("goal_id", "must be a goal of the activity's plan"),
        "activities_years_check" => ("end_year", "must not be before start_year"),
        "activities_term_needs_year" => ("start_term", "needs a start_year"),
        "plans_period_check" => ("last_year", "must not be before first_year"),
        "plans_not_own_parent" => ("parent_id", "must not be the plan itself"),
        "goals_not_own_parent" => ("parent_id", "must not be the goal itself"),
        "actors_not_own_parent" => ("parent_id", "must not be the actor itself"),
        "plans_parent_id_fkey" => ("parent_id", "does not exist"),
        "goals_plan_id_fkey" => ("plan_id", "does not exist"),
        "activities_plan_id_fkey" => ("plan_id", "does not exist"),
        "actors_parent_id_fkey" => ("parent_id", "does not exist"),
        "activity_goals_goal_id_fkey" => ("linked_goal_ids", "contains a goal that does not exist"),
        "activity_actors_actor_id_fkey" => ("actor_id", "does not exist"),
        "api_clients_actor_id_fkey" => ("actor_id", "does not exist"),
        "follow_ups_status_or_comment" => ("status", "or a comment is required"),
        "goals_realises_goal_id_fkey" => ("realises_goal_id", "does not exist"),
        "goals_realises_parent_plan_goal" => (
            "realises_goal_id",
            "must be a goal of the plan this goal's plan implements",
        ),
        "plans_parent_keeps_realised_goals" => (
            "parent_id",
            "would leave goals of this plan realising goals of a plan it no longer implements",
        ),
        _ => return None,
    })
}

impl From<DieselError> for ApiError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => ApiError::NotFound("the resource does not exist".into()),
            DieselError::DatabaseError(kind, info) => {
                let constraint = info.constraint_name().unwrap_or_default();
                match kind {
                    // A delete or update blocked because other rows point at this one.
                    DatabaseErrorKind::ForeignKeyViolation
                        if info.message().starts_with("update or delete on table") =>
                    {
                        let by = info.table_name().unwrap_or("other rows");
                        ApiError::Conflict(format!(
                            "it is still referenced by {}; remove those first",
                            by.replace('_', " ")
                        ))
                    }
                    DatabaseErrorKind::UniqueViolation => match constraint_message(constraint) {
                        Some((field, message)) => {
                            ApiError::Conflict(format!("`{field}` {message}"))
                        }
                        None => ApiError::Conflict("a row with the same key already exists".into()),
                    },
                    DatabaseErrorKind::ForeignKeyViolation | DatabaseErrorKind::CheckViolation => {
                        match constraint_message(constraint) {
                            Some((field, message)) => ApiError::field(field, message),
                            None => ApiError::field(
                                constraint.to_owned(),
                                "violates a rule of the data model",
                            ),
                        }
                    }
                    DatabaseErrorKind::NotNullViolation => ApiError::field(
                        info.column_name().unwrap_or("field").to_owned(),
                        "must not be null",
                    ),
                    DatabaseErrorKind::SerializationFailure => ApiError::concurrent_change(),
                    // PostgreSQL broke a lock cycle by aborting this transaction.
                    _ if info.message().contains("deadlock detected") => {
                        ApiError::concurrent_change()
                    }
                    // A NUL character a field check did not catch (SQLSTATE 22021).
                    _ if info
                        .message()
                        .starts_with("invalid byte sequence for encoding") =>
                    {
                        ApiError::field("body", format!("a text value {NUL_MESSAGE}"))
                    }
                    // A server that does not take writes (a standby, a fenced primary): the
                    // pool drops the connection and finds the primary; a retry succeeds.
                    DatabaseErrorKind::ClosedConnection
                    | DatabaseErrorKind::UnableToSendCommand
                    | DatabaseErrorKind::ReadOnlyTransaction => ApiError::Unavailable,
                    _ if is_unavailable_message(info.message()) => ApiError::Unavailable,
                    _ => ApiError::Internal(format!("database: {}", info.message())),
                }
            }
            // The commit failed and so did the rollback after it: the commit's error tells why.
            DieselError::RollbackErrorOnCommit { commit_error, .. } => {
                ApiError::from(*commit_error)
            }
            // A connection whose transaction state was lost to a broken link.
            DieselError::BrokenTransactionManager => ApiError::Unavailable,
            other => ApiError::Internal(format!("database: {other}")),
        }
    }
}

fn is_unavailable_message(message: &str) -> bool {
    // statement_timeout and administrator shutdowns: the database, not the request, is the problem.
    message.contains("canceling statement due to statement timeout")
        || message.contains("terminating connection")
        || message.contains("connection closed")
        // A standby asked to write (a URL without target_session_attrs=read-write).
        || message.contains("recovery is in progress")
        || message.contains("during recovery")
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for ApiError {
    fn from(err: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        tracing::warn!(error = %err, "no database connection");
        ApiError::Unavailable
    }
}

/// Collects field errors so a request reports every problem at once.
#[derive(Default)]
pub struct Checks(Vec<FieldError>);

impl Checks {
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn text(&mut self, field: &str, value: Option<&str>, min: usize, max: usize) {
        if let Some(value) = value {
            if value.contains('\0') {
                self.push(field, NUL_MESSAGE);
                return;
            }
            let chars = value.chars().count();
            if chars < min || chars > max {
                if min > 0 && value.trim().is_empty() {
                    self.push(field, "must not be empty");
                } else {
                    self.push(field, format!("must be {min} to {max} characters long"));
                }
            }
        }
    }

    /// An official municipality code: four digits, e.g. `1880`.
    pub fn municipality_code(&mut self, field: &str, value: Option<&str>) {
        if let Some(code) = value
            && !(code.len() == 4 && code.bytes().all(|b| b.is_ascii_digit()))
        {
            self.push(field, "must be four digits, e.g. 1880");
        }
    }

    pub fn year(&mut self, field: &str, value: Option<i32>) {
        if let Some(year) = value
            && !(crate::domain::MIN_YEAR..=crate::domain::MAX_YEAR).contains(&year)
        {
            self.push(field, "must be between 1900 and 2100");
        }
    }

    pub fn finish(self) -> ApiResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}
