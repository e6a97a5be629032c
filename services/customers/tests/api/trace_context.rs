use crm_proto::customers::v1 as pb;
use crm_testkit::{Backend, backend_tests};

use crate::helpers::{TestApp, person};

/// The caller's W3C trace context, read from gRPC metadata, continues through the outbox into
/// the published event, so a consumer's span joins the caller's trace.
async fn trace_context_flows_from_the_caller_into_events(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut request = app.req(pb::CreatePartyRequest {
        party: Some(person("Tracy", "Trace", "")),
        ..Default::default()
    });
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01").parse().unwrap(),
    );
    let party = app
        .client
        .clone()
        .create_party(request)
        .await
        .unwrap()
        .into_inner()
        .party
        .unwrap();
    let stored: Option<String> =
        sqlx::query_scalar("SELECT traceparent FROM crm_outbox WHERE event_subject = $1")
            .bind(&party.id)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert!(
        stored.as_deref().is_some_and(|tp| tp.contains(trace_id)),
        "outbox row: {stored:?}"
    );
    let events = app.events().await;
    let published = events[0].traceparent.clone().unwrap_or_default();
    assert!(
        published.contains(trace_id),
        "published traceparent {published:?}"
    );
    assert_ne!(
        published,
        stored.unwrap(),
        "the published context is the relay's publish span, a child"
    );
}

backend_tests!(trace_context_flows_from_the_caller_into_events);
