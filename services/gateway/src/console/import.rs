//! Imports uploaded from the console: `POST /console/import?entity=parties` with a CSV or
//! JSON-lines file as the body and the signed-in user's token. A browser cannot stream a gRPC
//! call, so the gateway reads the upload as it arrives, as `crm import` reads a file, and streams
//! its rows to the owning service's import RPC with the caller's token: the service decides what
//! the caller may import, as for any other call. The answer is the import's summary as JSON.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use bytes::Bytes;
use clap::ValueEnum as _;
use crm_proto::common::v1::ImportOptions;
use crm_transfer::{Batches, Bearer, Format, ImportEntity, Owner, Reader, Source, reason_text};
use futures::TryStreamExt as _;
use futures::future::FutureExt as _;
use http::StatusCode;
use serde_json::json;
use tonic::body::Body;
use tonic::service::interceptor::InterceptedService;
use tracing::Instrument as _;

use crate::upstream::Upstreams;

/// Where the console uploads.
pub const PATH: &str = "/console/import";

/// Where the console reads each entity's columns.
pub const COLUMNS_PATH: &str = "/console/import-columns.json";

/// Refused rows listed in an answer at most (the count covers them all).
const LISTED: usize = 1000;

/// Rows per message to the service.
const BATCH: usize = 500;

/// Bytes of an upload read and dropped after the import was refused as a whole: a browser
/// answered before it has sent everything may report a reset connection instead of the answer.
const DRAIN: u64 = 256 << 20;

/// The upload handler for the console's site.
pub fn handler(upstreams: Upstreams) -> crm_platform::site::Upload {
    Arc::new(move |request| import(upstreams.clone(), request).boxed())
}

/// What the query string asks for.
#[derive(Debug, Clone, PartialEq)]
struct Asked {
    entity: ImportEntity,
    format: Format,
    source: String,
    dry_run: bool,
    mapping: HashMap<String, String>,
}

/// Reads the query: `entity` (required), `format` (`csv`, the default, or `jsonl`), `source`
/// (default `import`, as `crm import`'s, so that the same file from either changes nothing),
/// `dry_run`, and `map=COLUMN=FIELD` (repeatable). Errors name the offending parameter.
fn asked(query: &str) -> Result<Asked, (String, String)> {
    let mut entity = None;
    let mut format = Format::Csv;
    let mut source = "import".to_string();
    let mut dry_run = false;
    let mut mapping = HashMap::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let bad = |why: String| (key.to_string(), why);
        match key.as_ref() {
            "entity" => {
                entity = Some(
                    ImportEntity::from_str(&value, true)
                        .map_err(|_| bad(format!("{value:?} is not one of {}", entity_names().join(", "))))?,
                )
            }
            "format" => {
                format = Format::from_str(&value, true)
                    .map_err(|_| bad(format!("{value:?} is not csv or jsonl")))?
            }
            "source" if !value.trim().is_empty() => source = value.trim().to_string(),
            "dry_run" => dry_run = matches!(value.as_ref(), "true" | "1" | "yes"),
            "map" => {
                let (column, field) = value
                    .split_once('=')
                    .filter(|(c, f)| !c.trim().is_empty() && !f.trim().is_empty())
                    .ok_or_else(|| bad(format!("expected COLUMN=FIELD, got {value:?}")))?;
                mapping.insert(column.trim().to_string(), field.trim().to_string());
            }
            _ => {}
        }
    }
    let entity = entity.ok_or_else(|| ("entity".to_string(), "is required".to_string()))?;
    Ok(Asked {
        entity,
        format,
        source,
        dry_run,
        mapping,
    })
}

/// Each entity's name and the columns its importer reads, in the order of `crm import`'s list.
pub fn columns_json() -> String {
    let entities: Vec<_> = ImportEntity::value_variants()
        .iter()
        .filter_map(|e| {
            let name = e.to_possible_value()?.get_name().to_string();
            Some(json!({ "entity": name, "columns": e.columns() }))
        })
        .collect();
    serde_json::Value::Array(entities).to_string()
}

fn entity_names() -> Vec<String> {
    ImportEntity::value_variants()
        .iter()
        .filter_map(|e| e.to_possible_value().map(|v| v.get_name().to_string()))
        .collect()
}

async fn import(upstreams: Upstreams, request: http::Request<Body>) -> http::Response<Body> {
    let (parts, body) = request.into_parts();
    let asked = match asked(parts.uri.query().unwrap_or("")) {
        Ok(asked) => asked,
        Err((field, why)) => {
            return refused(
                StatusCode::BAD_REQUEST,
                tonic::Code::InvalidArgument,
                &format!("{field}: {why}"),
                Some(&field),
            );
        }
    };
    let token = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(Bearer::new);
    let Some(token) = token else {
        return refused(
            StatusCode::UNAUTHORIZED,
            tonic::Code::Unauthenticated,
            "sign in: the upload carries no bearer token",
            None,
        );
    };
    let channel = match asked.entity.owner() {
        Owner::Customers => upstreams.customers,
        Owner::Sales => upstreams.sales,
        Owner::Partners => upstreams.partners,
        Owner::Marketing => upstreams.marketing,
        Owner::ServiceDesk => upstreams.servicedesk,
    };
    // The body as a blocking reader, for the reading thread: it waits for the upload's bytes.
    let stream = http_body_util::BodyDataStream::new(body).map_err(std::io::Error::other);
    let source = Draining(Some(tokio_util::io::SyncIoBridge::new(
        tokio_util::io::StreamReader::new(stream),
    )));
    let Asked {
        entity,
        format,
        source: system,
        dry_run,
        mapping,
    } = asked;
    let opened =
        tokio::task::spawn_blocking(move || Reader::new(Box::new(source) as Source, format, mapping)).await;
    let reader = match opened {
        Ok(Ok(reader)) => reader,
        Ok(Err(e)) => {
            return refused(
                StatusCode::BAD_REQUEST,
                tonic::Code::InvalidArgument,
                &format!("file: {e}"),
                Some("file"),
            );
        }
        Err(e) => {
            return refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                tonic::Code::Internal,
                &format!("reading the upload failed: {e}"),
                None,
            );
        }
    };
    let batches = Batches {
        entity,
        options: ImportOptions {
            source: system,
            validate_only: dry_run,
        },
        size: BATCH,
    };
    let sent = crm_transfer::send(
        InterceptedService::new(channel, token),
        reader,
        batches,
        Arc::new(AtomicU64::new(0)),
    )
    .instrument(tracing::info_span!("console import", entity = ?entity, dry_run))
    .await;
    match sent {
        Ok(sent) => {
            let reasons = sent.reasons(entity);
            let rejections: Vec<_> = reasons
                .iter()
                .take(LISTED)
                .map(|(line, problems)| json!({ "line": line, "reason": reason_text(problems) }))
                .collect();
            let summary = json!({
                "created": sent.summary.created,
                "updated": sent.summary.updated,
                "unchanged": sent.summary.unchanged,
                "rejected": sent.rejected(),
                "dryRun": dry_run,
                "ignored": sent.ignored,
                "rejections": rejections,
            });
            answer(StatusCode::OK, summary)
        }
        Err(status) => {
            let http = match status.code() {
                tonic::Code::Unauthenticated => StatusCode::UNAUTHORIZED,
                tonic::Code::PermissionDenied => StatusCode::FORBIDDEN,
                tonic::Code::InvalidArgument | tonic::Code::FailedPrecondition => StatusCode::BAD_REQUEST,
                tonic::Code::Unavailable | tonic::Code::ResourceExhausted => StatusCode::SERVICE_UNAVAILABLE,
                tonic::Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
                _ => StatusCode::BAD_GATEWAY,
            };
            refused(http, status.code(), status.message(), None)
        }
    }
}

/// An answer refusing the whole upload: the gRPC code's name, the message, and the offending
/// field where there is one.
fn refused(http: StatusCode, code: tonic::Code, message: &str, field: Option<&str>) -> http::Response<Body> {
    let name = format!("{code:?}");
    answer(
        http,
        json!({ "error": { "code": upper_snake(&name), "message": message, "field": field } }),
    )
}

/// `PermissionDenied` -> `PERMISSION_DENIED`, as gRPC names its codes.
fn upper_snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn answer(status: StatusCode, body: serde_json::Value) -> http::Response<Body> {
    let bytes = Bytes::from(body.to_string());
    let mut response = http::Response::new(Body::new(http_body_util::Full::new(bytes)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// The upload as the reading thread reads it. What is left when the reader is dropped early
/// (the import was refused as a whole) is read and dropped, up to [`DRAIN`] bytes, so that the
/// browser gets the answer: on a blocking thread of its own, as the bridge blocks on every read
/// and the reader may be dropped on the runtime's.
struct Draining<R: std::io::Read + Send + 'static>(Option<R>);

impl<R: std::io::Read + Send + 'static> std::io::Read for Draining<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.as_mut().map_or(Ok(0), |inner| inner.read(buf))
    }
}

impl<R: std::io::Read + Send + 'static> Drop for Draining<R> {
    fn drop(&mut self) {
        if let Some(rest) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn_blocking(move || {
                let _ = std::io::copy(&mut rest.take(DRAIN), &mut std::io::sink());
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_names_the_entity_and_the_options() {
        let parsed =
            asked("entity=parties&dry_run=true&source=legacy&map=Customer%20ID%3Dexternal_id").unwrap();
        assert_eq!(parsed.entity, ImportEntity::Parties);
        assert_eq!(parsed.format, Format::Csv);
        assert_eq!((parsed.source.as_str(), parsed.dry_run), ("legacy", true));
        assert_eq!(parsed.mapping["Customer ID"], "external_id");
        assert_eq!(asked("entity=orders&format=jsonl").unwrap().format, Format::Jsonl);
        assert_eq!(asked("entity=cases").unwrap().source, "import");

        for (query, field) in [
            ("", "entity"),
            ("entity=planets", "entity"),
            ("entity=parties&format=xlsx", "format"),
            ("entity=parties&map=nothing", "map"),
        ] {
            assert_eq!(asked(query).unwrap_err().0, field, "{query}");
        }
    }

    #[test]
    fn every_entity_lists_its_columns() {
        let listed: serde_json::Value = serde_json::from_str(&columns_json()).unwrap();
        let listed = listed.as_array().unwrap();
        assert_eq!(listed.len(), ImportEntity::value_variants().len());
        assert_eq!(listed[0]["entity"], "parties");
        assert!(
            listed[0]["columns"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "email")
        );
    }

    #[test]
    fn codes_are_named_as_grpc_names_them() {
        assert_eq!(upper_snake("PermissionDenied"), "PERMISSION_DENIED");
        assert_eq!(upper_snake("Unauthenticated"), "UNAUTHENTICATED");
    }
}
