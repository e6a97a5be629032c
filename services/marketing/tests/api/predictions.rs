use std::time::Duration;

use async_nats::jetstream;
use crm_events::CloudEvent;
use crm_proto::customers::v1 as cpb;
use crm_proto::marketing::v1 as pb;
use crm_proto::sales::v1 as spb;
use crm_testkit::{Backend, backend_tests, eventually};
use tonic::Code;

use crate::helpers::{Suite, money};

/// Publishes an order.placed event as sales would, placed `weeks_ago`.
async fn order(suite: &Suite, party: &str, products: &[&str], amount: i64, weeks_ago: i64) {
    let order = spb::Order {
        id: uuid::Uuid::now_v7().to_string(),
        party_id: party.into(),
        lines: products
            .iter()
            .map(|p| spb::LineItem {
                product_id: p.to_string(),
                quantity: 1,
                ..Default::default()
            })
            .collect(),
        total: money(amount),
        status: spb::OrderStatus::Placed as i32,
        place_time: Some(prost_types::Timestamp {
            seconds: chrono::Utc::now().timestamp() - weeks_ago * 7 * 86_400,
            nanos: 0,
        }),
        ..Default::default()
    };
    let event = CloudEvent {
        id: uuid::Uuid::now_v7().to_string(),
        event_type: "crm.sales.order.placed.v1".into(),
        source: "/crm/sales".into(),
        subject: party.into(),
        time: chrono::Utc::now().to_rfc3339(),
        traceparent: None,
        sequence: None,
        data: prost::Message::encode_to_vec(&spb::OrderPlaced { order: Some(order) }).into(),
    };
    let js = jetstream::new(suite.nats.client().await);
    crm_events::ensure_stream(&js, &crm_events::StreamSpec::new("sales"))
        .await
        .unwrap();
    js.publish_with_headers("crm.sales.order.placed", event.to_headers(), event.data.clone())
        .await
        .unwrap()
        .await
        .unwrap();
}

async fn predictions_churn_risk_and_cross_sell(backend: Backend) {
    let suite = Suite::start(backend).await;
    let err = suite
        .predictions
        .clone()
        .get_prediction(suite.req(pb::GetPredictionRequest {
            party_id: "x".into(),
            horizon_weeks: 0,
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "nothing fitted yet");
    let mut regular = Vec::new();
    let mut lapsed = Vec::new();
    let mut once = Vec::new();
    for i in 0..8 {
        regular.push(suite.person(&format!("Regular{i}"), "Taipei", "1").await);
        lapsed.push(suite.person(&format!("Lapsed{i}"), "Taipei", "1").await);
        once.push(suite.person(&format!("Once{i}"), "Taipei", "1").await);
    }
    suite.profiles(24).await;
    let mut orders = 0;
    for (i, p) in regular.iter().enumerate() {
        for w in (1..=30).step_by(2) {
            order(&suite, &p.id, &["coffee", "filter"], 20_00 + i as i64 * 100, w).await;
            orders += 1;
        }
    }
    for p in &lapsed {
        for w in (42..=52).step_by(2) {
            order(&suite, &p.id, &["coffee", "grinder"], 30_00, w).await;
            orders += 1;
        }
    }
    for p in &once {
        order(&suite, &p.id, &["coffee"], 15_00, 20).await;
        orders += 1;
    }
    suite.purchases(orders).await;

    let fit = suite.fit().await;
    assert_eq!(fit.customers, 24);
    let params = fit.bg_nbd.unwrap();
    assert!(
        params.r > 0.0 && params.alpha > 0.0 && params.a > 0.0 && params.b > 0.0,
        "{params:?}"
    );
    assert!(fit.gamma_gamma.is_some());
    // The lapsed customers, and only they, are at risk.
    let risks = suite
        .predictions
        .clone()
        .list_churn_risks(suite.req(pb::ListChurnRisksRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .predictions;
    let mut at_risk: Vec<String> = risks.iter().map(|p| p.party_id.clone()).collect();
    at_risk.sort();
    let mut expected: Vec<String> = lapsed.iter().map(|p| p.id.clone()).collect();
    expected.sort();
    assert_eq!(at_risk, expected);
    assert_eq!(fit.newly_at_risk, 8);
    let regular_prediction = suite
        .predictions
        .clone()
        .get_prediction(suite.req(pb::GetPredictionRequest {
            party_id: regular[0].id.clone(),
            horizon_weeks: 26,
        }))
        .await
        .unwrap()
        .into_inner()
        .prediction
        .unwrap();
    assert!(
        regular_prediction.probability_alive_bps > 9000,
        "{regular_prediction:?}"
    );
    assert!(
        regular_prediction.expected_purchases > 5.0,
        "a customer buying every other week keeps buying"
    );
    let key = suite
        .predictions
        .clone()
        .list_key_customers(suite.req(pb::ListKeyCustomersRequest {
            limit: 8,
            horizon_weeks: 52,
        }))
        .await
        .unwrap()
        .into_inner()
        .predictions;
    assert!(
        key.iter().all(|p| regular.iter().any(|r| r.id == p.party_id)),
        "the key customers are the regulars"
    );
    // Another horizon ranks by its own values. Its walk, which ends where the kept values show
    // no later customer can make the list, gives the head of the whole ranking.
    let key_customers = |limit: i32, horizon_weeks: i32| {
        let mut client = suite.predictions.clone();
        let req = suite.req(pb::ListKeyCustomersRequest { limit, horizon_weeks });
        async move {
            client
                .list_key_customers(req)
                .await
                .unwrap()
                .into_inner()
                .predictions
                .into_iter()
                .map(|p| p.party_id)
                .collect::<Vec<_>>()
        }
    };
    for horizon in [4, 26, 104, 520] {
        let all = key_customers(10_000, horizon).await;
        assert!(all.len() > 8, "{all:?}");
        for k in [1, 3, 8] {
            assert_eq!(
                key_customers(k, horizon).await,
                all[..k as usize],
                "the best {k} over {horizon} weeks"
            );
        }
    }
    // Fitting again announces nobody twice.
    let again = suite.fit().await;
    assert_eq!(again.newly_at_risk, 0);

    // The customers service moved the lapsed customers to at risk.
    eventually(Duration::from_secs(20), "at-risk customers in customers", || {
        let mut customers = suite.customers.clone();
        let req = suite.req(cpb::GetPartyRequest {
            id: lapsed[0].id.clone(),
        });
        async move {
            (customers
                .get_party(req)
                .await
                .ok()?
                .into_inner()
                .party?
                .lifecycle_stage
                == cpb::LifecycleStage::AtRisk as i32)
                .then_some(())
        }
    })
    .await;

    // Cross-sell: coffee buyers buy filters or a grinder; a one-time coffee buyer is offered
    // those, never coffee again.
    let affinities = suite
        .predictions
        .clone()
        .list_product_affinities(suite.req(pb::ListProductAffinitiesRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .affinities;
    let filter_to_coffee = affinities
        .iter()
        .find(|a| a.from_product_id == "filter" && a.to_product_id == "coffee")
        .unwrap();
    assert!((filter_to_coffee.confidence - 1.0).abs() < 1e-9);
    assert!((filter_to_coffee.support - 8.0 / 24.0).abs() < 1e-9);
    let recommendations = suite
        .predictions
        .clone()
        .get_recommendations(suite.req(pb::GetRecommendationsRequest {
            party_id: once[0].id.clone(),
            limit: 5,
        }))
        .await
        .unwrap()
        .into_inner()
        .recommendations;
    let products: Vec<&str> = recommendations.iter().map(|r| r.product_id.as_str()).collect();
    assert!(!products.contains(&"coffee"));
    assert!(
        products.contains(&"filter") && products.contains(&"grinder"),
        "{products:?}"
    );
}

/// A purchase history that ended years ago (an imported one) makes lost customers, not at-risk
/// ones: fitting the models announces nobody of them.
async fn customers_silent_for_years_are_not_announced_at_risk(backend: Backend) {
    let suite = Suite::start(backend).await;
    let mut regular = Vec::new();
    let mut long_gone = Vec::new();
    for i in 0..6 {
        regular.push(suite.person(&format!("Regular{i}"), "Taipei", "1").await);
        long_gone.push(suite.person(&format!("Gone{i}"), "Taipei", "1").await);
    }
    suite.profiles(12).await;
    let mut orders = 0;
    for p in &regular {
        for w in (1..=30).step_by(2) {
            order(&suite, &p.id, &["coffee"], 20_00, w).await;
            orders += 1;
        }
    }
    for p in &long_gone {
        // Weekly buyers until two and a half years ago.
        for w in (130..=160).step_by(2) {
            order(&suite, &p.id, &["coffee"], 30_00, w).await;
            orders += 1;
        }
    }
    suite.purchases(orders).await;
    let fit = suite.fit().await;
    assert_eq!(fit.customers, 12);
    // Their predicted chance of being alive is low, as it should be ...
    let risks = suite
        .predictions
        .clone()
        .list_churn_risks(suite.req(pb::ListChurnRisksRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .predictions;
    assert!(
        long_gone.iter().all(|p| risks.iter().any(|r| r.party_id == p.id)),
        "{risks:?}"
    );
    // ... but nobody is announced at risk for outreach.
    assert_eq!(fit.newly_at_risk, 0);
}

/// A fit is a job: its state and result stay readable by id (or as the latest), one fit runs at
/// a time (a call while another replica's runs joins it), and a job whose service stopped
/// while it ran is reported interrupted and does not block the next fit.
async fn a_fit_is_a_job_followed_by_id(backend: Backend) {
    let suite = Suite::start(backend).await;
    let get = |id: &str| {
        let mut predictions = suite.predictions.clone();
        let req = suite.req(pb::GetFitJobRequest { id: id.into() });
        async move {
            predictions
                .get_fit_job(req)
                .await
                .map(|r| r.into_inner().result.unwrap())
        }
    };
    assert_eq!(get("").await.unwrap_err().code(), Code::NotFound, "no fit yet");
    // Nothing to fit on: the caller's precondition, and the job says why it failed.
    let err = suite
        .predictions
        .clone()
        .fit_models(suite.req(pb::FitModelsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let failed = get("").await.unwrap().job.unwrap();
    assert_eq!(failed.state, pb::FitJobState::Failed as i32);
    assert_eq!(failed.error, err.message());
    let mut people = Vec::new();
    for i in 0..12 {
        people.push(suite.person(&format!("Buyer{i}"), "Taipei", "1").await);
    }
    suite.profiles(12).await;
    let mut orders = 0;
    for (i, p) in people.iter().enumerate() {
        for w in (1..=20).step_by(1 + i % 3) {
            order(&suite, &p.id, &["coffee"], 20_00, w).await;
            orders += 1;
        }
    }
    suite.purchases(orders).await;

    let fit = suite.fit().await;
    let job = fit.job.clone().unwrap();
    assert_eq!(job.state, pb::FitJobState::Succeeded as i32);
    assert_eq!((job.customers, job.customers_scored), (12, 12));
    assert!(job.end_time.is_some() && job.error.is_empty());
    assert_eq!(get(&job.id).await.unwrap(), fit, "the job keeps its result");
    assert_eq!(get("").await.unwrap(), fit, "the latest fit");
    assert_eq!(get("unknown").await.unwrap_err().code(), Code::NotFound);

    // Another replica's fit is running: a call joins it instead of starting a second.
    let db = &suite.marketing_db;
    let running = |id: &'static str, heartbeat: i64| async move {
        sqlx::query(
            "INSERT INTO model_fit_jobs (id, state, as_of, started_at, heartbeat_at) VALUES ($1, 'running', '2026-01-01', $2, $2)",
        )
        .bind(id)
        .bind(heartbeat)
        .execute(db.pool())
        .await
        .unwrap();
    };
    let now = chrono::Utc::now().timestamp_micros();
    running("elsewhere", now).await;
    let joined = suite
        .predictions
        .clone()
        .fit_models(suite.req(pb::FitModelsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let joined_job = joined.job.unwrap();
    assert_eq!(joined_job.id, "elsewhere");
    assert_eq!(joined_job.state, pb::FitJobState::Running as i32);
    assert!(joined.bg_nbd.is_none(), "no result before it ends");

    // That replica stopped: its heartbeat is older than the lease. The job reads as
    // interrupted, and the next fit runs.
    sqlx::query("UPDATE model_fit_jobs SET heartbeat_at = 0 WHERE id = 'elsewhere'")
        .execute(db.pool())
        .await
        .unwrap();
    let stale = get("elsewhere").await.unwrap().job.unwrap();
    assert_eq!(stale.state, pb::FitJobState::Failed as i32);
    assert!(stale.error.starts_with("interrupted"), "{}", stale.error);
    let next = suite.fit().await;
    let next_job = next.job.unwrap();
    assert_ne!(next_job.id, job.id);
    assert_eq!(next_job.state, pb::FitJobState::Succeeded as i32);
    assert_eq!(next.bg_nbd, fit.bg_nbd, "the same histories, the same fit");
}

backend_tests!(
    predictions_churn_risk_and_cross_sell,
    customers_silent_for_years_are_not_announced_at_risk,
    a_fit_is_a_job_followed_by_id,
);
