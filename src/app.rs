//! The application: the router and the server loop.

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode};
use axum::middleware;
use axum::response::IntoResponse;
use tokio_util::sync::CancellationToken;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::api::{self, CATALOG, CONVERSION, FLOW_SERVICE, SANDBOX_MANAGEMENT, error::ApiError};
use crate::config::{Config, LogFormat};
use crate::flows;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Inlet",
        description = "Flow Service-compatible ingestion of PostgreSQL and Redshift tables into Delta Lake"
    ),
    components(schemas(
        api::schema::FlowErrorBody,
        api::schema::GatewayErrorBody,
        api::schema::OAuthErrorBody
    ))
)]
struct ApiDoc;

/// The API's routes, with the OpenAPI document they declare.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(
            FLOW_SERVICE,
            api::specs::routes()
                .merge(api::connections::routes())
                .merge(api::explore::routes())
                .merge(api::source_connections::routes())
                .merge(api::target_connections::routes())
                .merge(api::flows::routes())
                .merge(api::runs::routes())
                .merge(api::subscriptions::routes()),
        )
        .nest(CONVERSION, api::mapping_sets::routes())
        .nest(SANDBOX_MANAGEMENT, api::sandboxes::routes())
        .nest(CATALOG, api::catalog::routes())
        .merge(api::ims::routes())
        .merge(api::ops::routes())
}

/// The OpenAPI document of the API, as `/openapi.json` serves it.
pub fn openapi() -> serde_json::Value {
    let (_, mut openapi) = api_routes().split_for_parts();
    api::openapi::complete(&mut openapi);
    api::openapi::to_json(&openapi)
}

/// The whole HTTP interface.
pub fn router(state: AppState) -> Router {
    let (api, mut openapi) = api_routes().split_for_parts();
    api::openapi::complete(&mut openapi);
    let openapi = Arc::new(api::openapi::to_json(&openapi));
    let request_id = HeaderName::from_static("x-request-id");
    api.merge(crate::console::routes())
        .route(
            "/openapi.json",
            axum::routing::get(move || async move { axum::Json(openapi.as_ref().clone()) }),
        )
        .fallback(|| async {
            ApiError::flow(StatusCode::NOT_FOUND, "1101", "No resource lives at this path").into_response()
        })
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::metrics::track,
        ))
        .layer(middleware::from_fn(api::error::render))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Runs the service until SIGINT or SIGTERM, then finishes in-flight requests.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    init_logging(&config);
    let listen = config.listen;
    let state = AppState::open(config).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, backend = ?state.store.backend(), "inlet listening");
    let stop = CancellationToken::new();
    let background = start_background(&state, &stop);
    println!("inlet listening on http://{address}");
    let stopping = stop.clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            stopping.cancel();
        })
        .await?;
    stop.cancel();
    for task in background {
        if let Err(error) = task.await {
            tracing::error!(%error, "a background task (scheduler or workers) ended in a panic");
        }
    }
    tracing::info!("inlet stopped");
    Ok(())
}

/// Starts the scheduler, retention and this process's workers; they stop when `stop` is
/// cancelled.
fn start_background(state: &AppState, stop: &CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
    let config = &state.config;
    let mut tasks = vec![
        tokio::spawn(flows::scheduler::run(
            state.scheduler(),
            config.poll_interval,
            stop.clone(),
        )),
        tokio::spawn(flows::retention::run(state.retention(), stop.clone())),
    ];
    match state.deliverer() {
        Ok(deliverer) => tasks.extend(crate::alerts::deliver::start(Arc::new(deliverer), stop)),
        Err(error) => tracing::error!(%error, "the alert delivery worker cannot start; alerts stay in the outbox"),
    }
    if config.maintenance.enabled {
        tasks.push(tokio::spawn(flows::maintenance::run(
            state.maintainer(),
            config.maintenance.interval,
            stop.clone(),
        )));
    }
    tasks.push(tokio::spawn(flows::slot_watch::run(
        state.engine(),
        config.alerts.slot_check_every,
        stop.clone(),
    )));
    if config.workers > 0 {
        let process = flows::worker::process_name().to_string();
        tasks.push(tokio::spawn(flows::worker::run(
            Arc::new(state.engine()),
            process,
            config.workers,
            stop.clone(),
        )));
    }
    tasks
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(crate::logging::filter(&config.log_level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(crate::logging::filter("info")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    /// The checked-in copy of the OpenAPI document (docs/openapi.json) is the one the
    /// server serves; `INLET_WRITE_OPENAPI=1 cargo test --lib openapi` writes it anew.
    #[test]
    fn the_checked_in_openapi_document_is_the_served_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");
        let served = serde_json::to_string_pretty(&super::openapi()).expect("the document serialises") + "\n";
        if std::env::var_os("INLET_WRITE_OPENAPI").is_some() {
            std::fs::write(path, &served).expect("write docs/openapi.json");
        }
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            checked_in == served,
            "docs/openapi.json differs from the served document: run `INLET_WRITE_OPENAPI=1 cargo test --lib openapi` and commit it"
        );
    }
}
