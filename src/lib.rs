//! kulturplan: the regional cultural plan as a REST/JSON API.

pub mod api;
pub mod auth;
pub mod config;
pub mod cors;
pub mod db;
pub mod domain;
pub mod error;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod seed;

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpRequest, HttpResponse, error::InternalError, web};
use utoipa::OpenApi as _;
use utoipa_actix_web::{AppExt, scope};
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::JwtKeys;
use crate::config::Config;
use crate::db::DbPool;
use crate::error::ApiError;

/// Largest JSON body accepted by ordinary endpoints.
pub const JSON_LIMIT: usize = 256 * 1024;

pub struct AppState {
    pub pool: DbPool,
    pub config: Config,
    pub jwt: JwtKeys,
    pub metrics: std::sync::Arc<metrics::Metrics>,
    /// Rendered answers (activity pages and items, reports) kept per data version.
    pub responses: api::response_cache::ResponseCache,
    /// The data version, read once for the requests that ask for it at the same time.
    pub versions: db::data_version::VersionReads,
}

/// Registers every `/api/v1` handler (routes and OpenAPI paths come from the same calls).
fn api_v1(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    api::plans::routes(cfg);
    api::goals::routes(cfg);
    api::actors::routes(cfg);
    api::activities::routes(cfg);
    api::follow_ups::routes(cfg);
    api::changes::routes(cfg);
    api::collaborations::routes(cfg);
    api::reports::routes(cfg);
    api::chase::routes(cfg);
    api::board::routes(cfg);
    api::token::routes(cfg);
    api::clients::routes(cfg);
    api::me::routes(cfg);
}

/// The JSON extractor's configuration for a body limit: every failure becomes a problem document.
/// The app uses `JSON_LIMIT`; routes that take larger bodies register their own.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, req| json_error(err, req, limit))
}

/// Every error actix's extractors raise becomes a problem document.
fn json_error(
    err: actix_web::error::JsonPayloadError,
    _: &HttpRequest,
    limit: usize,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let api = match &err {
        E::OverflowKnownLength { .. } | E::Overflow { .. } => {
            ApiError::PayloadTooLarge(format!("the body exceeds {limit} bytes"))
        }
        E::ContentType => {
            ApiError::UnsupportedMediaType("expected Content-Type: application/json".into())
        }
        E::Deserialize(e) => body_error(e),
        other => ApiError::BadRequest(other.to_string()),
    };
    InternalError::from_response(err, actix_web::ResponseError::error_response(&api)).into()
}

/// A body that is not JSON is malformed (400); JSON of the wrong shape is invalid (422, naming
/// the field).
pub(crate) fn body_error(e: &serde_json::Error) -> ApiError {
    if e.is_data() {
        shape_error(e)
    } else {
        ApiError::BadRequest(format!("the body is not valid JSON: {e}"))
    }
}

/// JSON known to be well-formed that does not fit the body's type: always invalid (422), never
/// malformed, whatever serde_json calls it (a `null` where an enum belongs is "expected value").
pub(crate) fn shape_error(e: &serde_json::Error) -> ApiError {
    ApiError::field(json_path_of(e), e.to_string())
}

/// serde_json names no field in its messages' structure; the message itself names it.
fn json_path_of(err: &serde_json::Error) -> String {
    let message = err.to_string();
    for marker in ["unknown field `", "missing field `"] {
        if let Some(rest) = message.split(marker).nth(1)
            && let Some(name) = rest.split('`').next()
        {
            return name.to_owned();
        }
    }
    "body".to_owned()
}

fn query_error(err: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    let api = ApiError::BadRequest(format!("invalid query string: {err}"));
    InternalError::from_response(err, actix_web::ResponseError::error_response(&api)).into()
}

fn path_error(err: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    let api = ApiError::BadRequest(format!("invalid path parameter: {err}"));
    InternalError::from_response(err, actix_web::ResponseError::error_response(&api)).into()
}

/// No handler took the request: a path of the API with another method is 405, anything else 404.
async fn unrouted(req: HttpRequest, known: web::Data<openapi::KnownPaths>) -> HttpResponse {
    use actix_web::HttpMessage;
    let method = if req.extensions().get::<observe::Head>().is_some() {
        "HEAD".to_owned()
    } else {
        req.method().to_string()
    };
    let error = match known.methods(req.path()) {
        Some(allowed) => ApiError::MethodNotAllowed {
            method,
            path: req.path().to_owned(),
            allowed: allowed.to_vec(),
        },
        None => ApiError::NotFound(format!("no endpoint {method} {}", req.path())),
    };
    actix_web::ResponseError::error_response(&error)
}

/// The API's service factory and its OpenAPI document, built by the same registration.
pub fn api_app_parts() -> (
    App<
        impl actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    >,
    utoipa::openapi::OpenApi,
) {
    let (app, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(openapi::ApiDoc::openapi())
        .service(api::health::live)
        .service(api::health::ready)
        .service(api::health::metrics)
        .service(scope::scope("/api/v1").configure(api_v1))
        .split_for_parts();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.info.description = Some(doc.info.description.unwrap_or_default() + api::query::RULES);
    openapi::finish_document(&mut doc);
    (app, doc)
}

/// Builds the whole application for a state.
pub fn build_app(
    state: web::Data<AppState>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (app, doc) = api_app_parts();
    let known = web::Data::new(openapi::KnownPaths::new(&doc));
    let cors = cors::cors(&state.config.cors_allowed_origins);
    // Innermost first: CORS (which rewrites `Vary` as one value), compression as
    // Accept-Encoding asks (which appends to `Vary`), CORS refusals as problems, and outermost
    // the request id and log line, so every answer carries an X-Request-Id.
    app.wrap(cors)
        .wrap(actix_web::middleware::Compress::default())
        .wrap(actix_web::middleware::from_fn(cors::problems))
        .wrap(actix_web::middleware::from_fn(observe::middleware))
        .app_data(state)
        .app_data(json_config(JSON_LIMIT))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .service(web::redirect("/docs", "/docs/"))
        .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", doc))
        .app_data(known)
        .default_service(web::to(unrouted))
}

/// Starts the HTTP server on a bound listener.
pub fn serve(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let server = actix_web::HttpServer::new(move || build_app(state.clone()))
        .listen(listener)?
        // Slow clients cannot hold a worker: the request head must arrive within 10 s.
        .client_request_timeout(std::time::Duration::from_secs(10))
        .client_disconnect_timeout(std::time::Duration::from_secs(5))
        .keep_alive(std::time::Duration::from_secs(30))
        // On SIGTERM/SIGINT: stop accepting, let in-flight requests finish for up to 30 s.
        .shutdown_timeout(30)
        .run();
    Ok(server)
}

impl AppState {
    pub fn new(config: Config) -> anyhow::Result<Self> {
        let metrics = std::sync::Arc::new(metrics::Metrics::new());
        let pool = db::pool(&config, &metrics)?;
        let jwt = JwtKeys::new(&config);
        let versions = db::data_version::VersionReads::new(metrics.version_reads.clone());
        let responses = api::response_cache::ResponseCache::new(config.response_cache_bytes);
        Ok(AppState {
            pool,
            config,
            jwt,
            metrics,
            responses,
            versions,
        })
    }
}
