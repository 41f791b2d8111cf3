//! `POST /api/v1/follow-ups/batch` and `/follow-ups/import`: many follow-ups in one all-or-nothing
//! write, from JSON or from a CSV file as a Swedish Excel saves it, with dry runs and
//! `Idempotency-Key` retries.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::body::JsonObject;
use super::follow_ups::{MAX_COMMENT, note_without_comment, refused_for_actor};
use crate::AppState;
use crate::auth::Auth;
use crate::db::activities::ActivityDates;
use crate::db::follow_ups::{self as db, BatchCounts, BatchItem};
use crate::db::idempotency;
use crate::domain::{FollowUpStatus, MAX_YEAR, MIN_YEAR, Scope, status_warnings};
use crate::error::{ApiError, ApiResult, FieldError, NUL_MESSAGE, Problem};

/// Most items in one batch or rows in one CSV file.
pub const MAX_ITEMS: usize = 10_000;
/// Largest batch or CSV body (the app's default JSON limit is far smaller).
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;
/// Attempts of a batch write that a concurrent transaction got in the way of.
const MAX_ATTEMPTS: usize = 5;
/// Longest `Idempotency-Key`.
const MAX_KEY_LEN: usize = 200;

/// Follow-ups to write together.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"items": [
    {"activity_id": "3c1d8f0e-1b7a-5a52-9d44-7d1e0a6b2f33", "year": 2024, "status": "completed", "comment": "Genomfört"},
    {"activity_id": "7f3e2a10-4c5b-5d6e-8f90-1a2b3c4d5e6f", "year": 2024, "status": "ongoing", "comment": null}
]}))]
pub struct BatchRequest {
    /// At most 10,000 items, each (activity, year) at most once.
    #[schema(max_items = 10000)]
    pub items: Vec<BatchItemInput>,
}

/// One follow-up of a batch. Each field is checked per item, so a bad value is reported with
/// the item's index instead of refusing the whole body.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchItemInput {
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub activity_id: Option<String>,
    #[serde(default)]
    #[schema(value_type = i32, required = true, minimum = 1900, maximum = 2100)]
    pub year: Option<i64>,
    /// Null for a note without a colour (then `comment` is required).
    #[serde(default)]
    #[schema(value_type = Option<FollowUpStatus>)]
    pub status: Option<String>,
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub comment: Option<String>,
}

/// What a batch did (or, in a dry run, would do). A real run after a dry run on unchanged data
/// gives the same counts.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"created": 118, "updated": 3, "unchanged": 40, "warnings": [
    {"index": 7, "activity_id": "3c1d8f0e-1b7a-5a52-9d44-7d1e0a6b2f33", "year": 2024,
     "message": "status `planned` for 2024, but the activity starts in 2023: planned means it starts later"}
]}))]
pub struct BatchResult {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Items whose status does not fit the activity's dates (they are written all the same).
    pub warnings: Vec<BatchWarning>,
}

/// A status that does not fit the activity's dates.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchWarning {
    /// Position of the item in the batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// Row of the CSV file (the header is row 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
    pub activity_id: Uuid,
    pub year: i32,
    pub message: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BatchQuery {
    /// Validate and count what would be created, updated and unchanged, writing nothing.
    /// An `Idempotency-Key` is ignored in a dry run.
    pub dry_run: Option<bool>,
}

/// Where an item came from: its index in a JSON batch or its row in a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum At {
    Index(usize),
    Row(usize),
}

impl At {
    /// An item's field by its path in the body (`items[3].year`), a row's by its column.
    fn error(self, field: &str, message: impl Into<String>) -> FieldError {
        match self {
            At::Index(i) => {
                let mut error = FieldError::new(format!("items[{i}].{field}"), message);
                error.index = Some(i);
                error
            }
            At::Row(r) => {
                let mut error = FieldError::new(field, message);
                error.row = Some(r);
                error
            }
        }
    }

    fn describe(self) -> String {
        match self {
            At::Index(i) => format!("item {i}"),
            At::Row(r) => format!("row {r}"),
        }
    }
}

/// One item as sent, each field parsed or the reason it could not be.
struct Candidate {
    at: At,
    activity_id: Result<Uuid, String>,
    year: Result<i64, String>,
    /// `None`: a note without a colour.
    status: Result<Option<FollowUpStatus>, String>,
    comment: Result<Option<String>, String>,
    /// A CSV row with a value outside the header's columns (an unquoted separator, most likely).
    stray: Option<String>,
}

const REQUIRED: &str = "is required";

impl Candidate {
    fn from_json(index: usize, item: BatchItemInput) -> Self {
        Candidate {
            at: At::Index(index),
            activity_id: match item.activity_id {
                None => Err(REQUIRED.into()),
                Some(id) => Uuid::parse_str(id.trim())
                    .map_err(|_| format!("`{}` is not a UUID", truncated(&id))),
            },
            year: item.year.ok_or_else(|| REQUIRED.to_owned()),
            status: match item.status {
                None => Ok(None),
                Some(status) => status.parse().map(Some).map_err(|_| {
                    format!(
                        "unknown status `{}`: use planned, delayed, completed or ongoing, or null for a note",
                        truncated(&status)
                    )
                }),
            },
            comment: Ok(item.comment),
            stray: None,
        }
    }
}

/// A value quoted in an error message, cut short.
fn truncated(value: &str) -> String {
    value.chars().take(60).collect()
}

/// The items that passed every check, with where each came from and its activity's dates.
struct Validated {
    items: Vec<BatchItem>,
    at: Vec<At>,
    dates: HashMap<Uuid, ActivityDates>,
}

/// Checks every item (fields, duplicates, activities, the token's actor binding) and refuses
/// the batch listing every bad item, or returns all of them valid.
async fn validate(
    conn: &mut crate::db::Conn,
    auth: &Auth,
    candidates: Vec<Candidate>,
) -> ApiResult<Validated> {
    let mut errors = Vec::new();
    let mut seen: HashMap<(Uuid, i64), At> = HashMap::new();
    for c in &candidates {
        if let Some(message) = &c.stray {
            errors.push(c.at.error("row", message));
        }
        if let Err(message) = &c.activity_id {
            errors.push(c.at.error("activity_id", message));
        }
        match c.year {
            Err(ref message) => errors.push(c.at.error("year", message)),
            Ok(year) if !(i64::from(MIN_YEAR)..=i64::from(MAX_YEAR)).contains(&year) => {
                errors.push(c.at.error("year", "must be between 1900 and 2100"));
            }
            Ok(_) => {}
        }
        if let Err(message) = &c.status {
            errors.push(c.at.error("status", message));
        }
        match &c.comment {
            Err(message) => errors.push(c.at.error("comment", message)),
            Ok(Some(comment)) if comment.contains('\0') => {
                errors.push(c.at.error("comment", NUL_MESSAGE));
            }
            Ok(Some(comment)) if comment.chars().count() > MAX_COMMENT => {
                errors.push(c.at.error(
                    "comment",
                    format!("must be at most {MAX_COMMENT} characters long"),
                ));
            }
            Ok(comment) => {
                if let Ok(status) = c.status
                    && let Some(message) = note_without_comment(status, comment.as_deref())
                {
                    errors.push(c.at.error("comment", message));
                }
            }
        }
        if let (Ok(id), Ok(year)) = (&c.activity_id, &c.year) {
            match seen.entry((*id, *year)) {
                Entry::Vacant(entry) => {
                    entry.insert(c.at);
                }
                Entry::Occupied(first) => errors.push(c.at.error(
                    "activity_id",
                    format!(
                        "activity {id} and year {year} already appear in {}",
                        first.get().describe()
                    ),
                )),
            }
        }
    }

    let mut ids: Vec<Uuid> = candidates
        .iter()
        .filter_map(|c| c.activity_id.as_ref().ok().copied())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let dates = crate::db::activities::dates(conn, &ids).await?;
    let existing: Vec<Uuid> = ids
        .iter()
        .filter(|id| dates.contains_key(id))
        .copied()
        .collect();
    let refused = refused_for_actor(conn, auth, &existing).await?;
    for c in &candidates {
        if let Ok(id) = c.activity_id {
            if !dates.contains_key(&id) {
                errors.push(c.at.error("activity_id", format!("activity {id} does not exist")));
            } else if refused.contains(&id) {
                errors.push(c.at.error(
                    "activity_id",
                    format!(
                        "this token may write follow-ups only for activities where its actor has a role; activity {id} is not one of them"
                    ),
                ));
            }
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| (e.index, e.row));
        return Err(ApiError::Validation(errors));
    }

    let mut items = Vec::with_capacity(candidates.len());
    let mut at = Vec::with_capacity(candidates.len());
    for c in candidates {
        if let (Ok(activity_id), Ok(year), Ok(status), Ok(comment)) =
            (c.activity_id, c.year, c.status, c.comment)
        {
            items.push(BatchItem {
                activity_id,
                year: i32::try_from(year).map_err(ApiError::internal)?,
                status,
                comment,
            });
            at.push(c.at);
        }
    }
    Ok(Validated { items, at, dates })
}

impl Validated {
    fn warnings(&self) -> Vec<BatchWarning> {
        let mut warnings = Vec::new();
        for (item, at) in self.items.iter().zip(&self.at) {
            let Some(dates) = self.dates.get(&item.activity_id) else {
                continue;
            };
            for message in status_warnings(
                dates.start_year,
                dates.end_year,
                dates.recurrence,
                item.year,
                item.status,
            ) {
                warnings.push(BatchWarning {
                    index: match at {
                        At::Index(i) => Some(*i),
                        At::Row(_) => None,
                    },
                    row: match at {
                        At::Row(r) => Some(*r),
                        At::Index(_) => None,
                    },
                    activity_id: item.activity_id,
                    year: item.year,
                    message,
                });
            }
        }
        warnings
    }
}

/// An `Idempotency-Key` request: its caller, key and the hash of what it asked for.
struct Idempotency {
    owner: String,
    key: String,
    request_hash: String,
}

impl Idempotency {
    /// `None` without the header, and in a dry run (which writes nothing to repeat).
    fn of(
        req: &HttpRequest,
        auth: &Auth,
        dry_run: bool,
        request: impl FnOnce() -> ApiResult<Vec<u8>>,
    ) -> ApiResult<Option<Self>> {
        let Some(value) = req.headers().get("idempotency-key") else {
            return Ok(None);
        };
        let key = value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| {
                !k.is_empty() && k.len() <= MAX_KEY_LEN && k.bytes().all(|b| b.is_ascii_graphic())
            })
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
                ))
            })?;
        if dry_run {
            return Ok(None);
        }
        let mut hasher = sha2::Sha256::new();
        hasher.update(req.path().as_bytes());
        hasher.update(b"\n");
        hasher.update(request()?);
        let request_hash = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // Keys are per caller: a client by its id, a person's token by its subject.
        let owner = match auth.client_id {
            Some(client) => format!("client:{client}"),
            None => format!("subject:{}", auth.subject),
        };
        Ok(Some(Idempotency {
            owner,
            key: key.to_owned(),
            request_hash,
        }))
    }

    /// The stored answer to send again, or a refusal when the key was used for another request.
    fn replay(&self, stored: idempotency::Stored) -> ApiResult<HttpResponse> {
        if stored.request_hash != self.request_hash {
            return Err(ApiError::field(
                "Idempotency-Key",
                "was already used for a different request in the last 24 hours; use a new key for a new request",
            ));
        }
        match (stored.status, stored.body) {
            (Some(status), Some(body)) => {
                let status = u16::try_from(status)
                    .ok()
                    .and_then(|s| StatusCode::from_u16(s).ok())
                    .unwrap_or(StatusCode::OK);
                Ok(HttpResponse::build(status)
                    .insert_header(header::ContentType::json())
                    .insert_header(("Idempotent-Replayed", "true"))
                    .body(body))
            }
            _ => Err(ApiError::Conflict(
                "a request with this Idempotency-Key is still being processed; retry".into(),
            )),
        }
    }
}

/// Validates, then counts (dry run) or writes everything in one transaction, honouring an
/// `Idempotency-Key`. Shared by the JSON batch and the CSV import.
async fn run(
    state: &AppState,
    auth: &Auth,
    candidates: Vec<Candidate>,
    dry_run: bool,
    idempotency: Option<Idempotency>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    if let Some(idem) = &idempotency {
        idempotency::purge_expired(&mut conn).await?;
        if let Some(stored) = idempotency::find(&mut conn, &idem.owner, &idem.key).await? {
            return idem.replay(stored);
        }
    }
    let validated = validate(&mut conn, auth, candidates).await?;
    let warnings = validated.warnings();
    if dry_run {
        let counts = db::classify_batch(&mut conn, &validated.items).await?;
        return Ok(HttpResponse::Ok().json(BatchResult::new(counts, warnings)));
    }
    let items = validated.items.as_slice();
    let subject = auth.subject.as_str();
    let idem = idempotency.as_ref();
    let warnings = &warnings;
    for attempt in 1..=MAX_ATTEMPTS {
        let written = crate::db::write::transaction(&state.pool, &mut conn, async move |conn| {
            if let Some(idem) = idem
                && !idempotency::claim(conn, &idem.owner, &idem.key, &idem.request_hash).await?
            {
                return Ok(None);
            }
            let counts = db::write_batch(conn, items, subject).await?;
            let body = serde_json::to_string(&BatchResult::new(counts, warnings.clone()))
                .map_err(ApiError::internal)?;
            if let Some(idem) = idem {
                idempotency::complete(conn, &idem.owner, &idem.key, 200, &body).await?;
            }
            Ok(Some(body))
        })
        .await;
        match written {
            Ok(Some(body)) => {
                return Ok(HttpResponse::Ok()
                    .insert_header(header::ContentType::json())
                    .body(body));
            }
            // A request with the same key committed first: answer what it answered.
            Ok(None) => {
                if let Some(idem) = idem
                    && let Some(stored) =
                        idempotency::find(&mut conn, &idem.owner, &idem.key).await?
                {
                    return idem.replay(stored);
                }
            }
            Err(err) if err.is_retryable() && attempt < MAX_ATTEMPTS => {
                tracing::info!(attempt, "batch write met a concurrent change; retrying");
            }
            Err(err) => return Err(err),
        }
    }
    Err(ApiError::concurrent_change())
}

impl BatchResult {
    fn new(counts: BatchCounts, warnings: Vec<BatchWarning>) -> Self {
        BatchResult {
            created: counts.created,
            updated: counts.updated,
            unchanged: counts.unchanged,
            warnings,
        }
    }
}

/// Write up to 10,000 follow-ups at once: all or nothing.
///
/// Every item is checked first (a value of the wrong JSON type, unknown activity, year outside
/// 1900–2100, unknown status, a null status without a comment, comment over 4,000 characters,
/// an activity the token's actor has no role in, the same activity and year twice); any bad item
/// refuses the whole batch with 422 listing every bad field by its path (`items[3].year`) and the
/// item's `index`, and nothing is written. `status` null with a comment is a note without a
/// colour. Otherwise all items are written in one transaction;
/// changes are recorded in each follow-up's history like `PUT` does. With `Idempotency-Key`, a
/// retry with the same key and body within 24 hours gets the first answer again (header
/// `Idempotent-Replayed: true`) without being applied twice.
#[utoipa::path(
    tag = "follow-ups",
    params(
        BatchQuery,
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 200, pattern = "^[!-~]+$", description = "Up to 200 characters; makes a retry return the first answer instead of applying again"),
    ),
    request_body = BatchRequest,
    responses(
        (status = 200, description = "Written (or counted, in a dry run)", body = BatchResult),
        (status = 400, description = "Malformed JSON, query or Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `follow_ups:write`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Concurrent writes kept getting in the way; retry", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 4 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad items, listed by `index`; or an Idempotency-Key reused for another request", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["follow_ups:write"]))
)]
#[post("/batch")]
pub async fn post_follow_up_batch(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: crate::api::query::Query<BatchQuery>,
    body: JsonObject<BatchRequest>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::FollowUpsWrite)?;
    let dry_run = query.dry_run.unwrap_or(false);
    let body = body.into_inner();
    let idempotency = Idempotency::of(&req, &auth, dry_run, || {
        serde_json::to_vec(&body).map_err(ApiError::internal)
    })?;
    if body.items.len() > MAX_ITEMS {
        return Err(ApiError::field(
            "items",
            format!("must hold at most {MAX_ITEMS} items; split the batch"),
        ));
    }
    let candidates = body
        .items
        .into_iter()
        .enumerate()
        .map(|(index, item)| Candidate::from_json(index, item))
        .collect();
    run(&state, &auth, candidates, dry_run, idempotency).await
}

/// Write follow-ups from a CSV file: all or nothing, like the batch.
///
/// UTF-8, with or without a byte-order mark; comma- or semicolon-separated (as a Swedish Excel
/// saves it), detected from the header row, which names `activity_id`, `year`, `status` and
/// optionally `comment` in any order; other columns (a follow-up sheet's `goal_code`, `title`,
/// `responsible`) are ignored. `status` is an API value or the colour of the plans' follow-up
/// tables: blå/blått = planned, röd/rött = delayed, grön/grönt = completed, gul/gult = ongoing
/// (any case); empty with a comment, a note without a colour. Rows with neither status nor
/// comment report nothing and are skipped, as are empty rows. A cell Excel would run as a
/// formula, kept as text with a leading `'` by `GET /follow-ups/sheet`, is read without it.
/// Errors and warnings name the `row` (the header is row 1).
#[utoipa::path(
    tag = "follow-ups",
    params(
        BatchQuery,
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 200, pattern = "^[!-~]+$", description = "Up to 200 characters; makes a retry return the first answer instead of applying again"),
    ),
    request_body(
        content = String, content_type = "text/csv",
        description = "Header row and up to 10,000 rows",
        example = "activity_id;year;status;comment\n3c1d8f0e-1b7a-5a52-9d44-7d1e0a6b2f33;2024;Grön;Genomfört\n"
    ),
    responses(
        (status = 200, description = "Written (or counted, in a dry run)", body = BatchResult),
        (status = 400, description = "Malformed query or Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `follow_ups:write`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Concurrent writes kept getting in the way; retry", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 4 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not text/csv", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad header or rows, listed by `row`; or an Idempotency-Key reused for another request", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["follow_ups:write"]))
)]
#[post("/import")]
pub async fn import_follow_ups(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: crate::api::query::Query<BatchQuery>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::FollowUpsWrite)?;
    ensure_csv(&req)?;
    let dry_run = query.dry_run.unwrap_or(false);
    let body = match payload.to_bytes_limited(BODY_LIMIT).await {
        Ok(Ok(body)) => body,
        Ok(Err(err)) => {
            return Err(ApiError::BadRequest(format!(
                "the body could not be read: {err}"
            )));
        }
        Err(_) => {
            return Err(ApiError::PayloadTooLarge(format!(
                "the body exceeds {BODY_LIMIT} bytes"
            )));
        }
    };
    let idempotency = Idempotency::of(&req, &auth, dry_run, || Ok(body.to_vec()))?;
    let candidates = csv_rows(&body)?;
    run(&state, &auth, candidates, dry_run, idempotency).await
}

/// 415 unless the body is declared `text/csv` (UTF-8, if a charset is named).
fn ensure_csv(req: &HttpRequest) -> ApiResult<()> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut parts = content_type.split(';').map(str::trim);
    let is_csv = parts.next() == Some("text/csv");
    let utf8 = parts
        .filter_map(|p| p.strip_prefix("charset="))
        .all(|charset| matches!(charset.trim_matches('"'), "utf-8" | "utf8"));
    if is_csv && utf8 {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(
            "expected Content-Type: text/csv (UTF-8)".into(),
        ))
    }
}

const COLUMNS: [&str; 4] = ["activity_id", "year", "status", "comment"];

/// Parses a CSV upload into candidates, one per non-empty row, numbered as a spreadsheet shows
/// them (the header is row 1).
fn csv_rows(body: &[u8]) -> ApiResult<Vec<Candidate>> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let header_line = body.split(|&b| b == b'\n').next().unwrap_or_default();
    let semicolons = header_line.iter().filter(|&&b| b == b';').count();
    let commas = header_line.iter().filter(|&&b| b == b',').count();
    let delimiter = if semicolons > commas { b';' } else { b',' };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(body);
    let mut records = reader.byte_records();

    let header_error = |message: String| {
        let mut error = FieldError::new("header", message);
        error.row = Some(1);
        ApiError::Validation(vec![error])
    };
    let header = match records.next() {
        Some(Ok(header)) => header,
        Some(Err(err)) => return Err(header_error(format!("cannot be read: {err}"))),
        None => {
            return Err(header_error(format!(
                "is missing: the first row must name the columns {}",
                COLUMNS.join(", ")
            )));
        }
    };
    let position = columns(&header)?;

    let mut candidates = Vec::new();
    for (i, record) in records.enumerate() {
        let at = At::Row(i + 2);
        let record = match record {
            Ok(record) => record,
            Err(err) => {
                return Err(ApiError::Validation(vec![
                    at.error("row", format!("cannot be read: {err}")),
                ]));
            }
        };
        if record.iter().all(<[u8]>::is_empty) {
            continue;
        }
        if candidates.len() == MAX_ITEMS {
            return Err(ApiError::field(
                "body",
                format!("holds more than {MAX_ITEMS} rows; split the file"),
            ));
        }
        candidates.extend(candidate(at, &record, &header, &position, delimiter));
    }
    Ok(candidates)
}

/// Where each column the import reads stands in the header row; every problem of the header
/// refuses the file at row 1.
fn columns(header: &csv::ByteRecord) -> ApiResult<HashMap<&'static str, usize>> {
    let mut position: HashMap<&'static str, usize> = HashMap::new();
    let mut errors = Vec::new();
    for (i, name) in header.iter().enumerate() {
        let name = String::from_utf8_lossy(name).to_lowercase();
        if name.is_empty() {
            continue;
        }
        // Other columns (a follow-up sheet's goal code, title, responsible) are read by people,
        // not by the import.
        if let Some(column) = COLUMNS.iter().find(|c| **c == name)
            && position.insert(column, i).is_some()
        {
            errors.push(format!("names the column `{column}` twice"));
        }
    }
    for required in &COLUMNS[..3] {
        if !position.contains_key(required) {
            errors.push(format!("lacks the column `{required}`"));
        }
    }
    if !errors.is_empty() {
        let errors = errors
            .into_iter()
            .map(|message| At::Row(1).error("header", message))
            .collect();
        return Err(ApiError::Validation(errors));
    }

    Ok(position)
}

/// One data row as a candidate follow-up, or nothing for a sheet's row with neither colour nor
/// note.
fn candidate(
    at: At,
    record: &csv::ByteRecord,
    header: &csv::ByteRecord,
    position: &HashMap<&'static str, usize>,
    delimiter: u8,
) -> Option<Candidate> {
    let cell = |column: &str| -> Result<&str, String> {
        let bytes = position
            .get(column)
            .and_then(|&i| record.get(i))
            .unwrap_or_default();
        std::str::from_utf8(bytes)
            .map(super::csv::from_excel_cell)
            .map_err(|_| "is not UTF-8 text; save the file as \"CSV UTF-8\"".to_owned())
    };
    let required = |column: &str| {
        cell(column).and_then(|value| {
            if value.is_empty() {
                Err(REQUIRED.to_owned())
            } else {
                Ok(value)
            }
        })
    };
    let comment = cell("comment").map(|c| Some(c.to_owned()).filter(|c| !c.is_empty()));
    let status = cell("status").and_then(|status| {
        if status.is_empty() {
            return Ok(None);
        }
        FollowUpStatus::from_api_or_colour(status)
            .map(Some)
            .ok_or_else(|| {
                format!(
                    "unknown status `{}`: use blå, röd, grön, gul or planned, delayed, completed, ongoing",
                    truncated(status)
                )
            })
    });
    // A sheet's row for an activity not reported on: neither colour nor note.
    if matches!((&status, &comment), (Ok(None), Ok(None))) {
        return None;
    }
    Some(Candidate {
        at,
        activity_id: required("activity_id").and_then(|id| {
            Uuid::parse_str(id).map_err(|_| format!("`{}` is not a UUID", truncated(id)))
        }),
        year: required("year").and_then(|year| {
            year.parse::<i64>()
                .map_err(|_| format!("`{}` is not a year", truncated(year)))
        }),
        status,
        comment,
        stray: record
            .iter()
            .enumerate()
            .find(|(i, value)| {
                !value.is_empty() && header.get(*i).is_none_or(<[u8]>::is_empty)
            })
            .map(|(_, value)| {
                format!(
                    "has a value (`{}`) in a column the header does not name; quote a comment that contains `{}`",
                    truncated(&String::from_utf8_lossy(value)),
                    char::from(delimiter)
                )
            }),
    })
}
