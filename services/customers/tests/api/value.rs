use crm_proto::common::v1::Money;
use crm_proto::customers::v1 as pb;
use crm_testkit::{Backend, backend_tests};

use crate::helpers::{TestApp, person, violated};

fn usd(amount: i64) -> Option<Money> {
    Some(Money {
        amount_minor: amount,
        currency_code: "USD".into(),
    })
}

/// Re-ranks every rank (waiting up to the app's `--ranking-wait`).
async fn recompute(app: &TestApp) -> pb::RecomputeValueTiersResponse {
    app.client
        .clone()
        .recompute_value_tiers(app.req(pb::RecomputeValueTiersRequest {}))
        .await
        .unwrap()
        .into_inner()
}

/// The value pyramid.
async fn pyramid(app: &TestApp) -> pb::GetValuePyramidResponse {
    app.client
        .clone()
        .get_value_pyramid(app.req(pb::GetValuePyramidRequest {}))
        .await
        .unwrap()
        .into_inner()
}

async fn value_tiers_pyramid_and_pareto(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Ten customers: 100, 50, 20, 10, 5, 5, 4, 3, 2, 1 (x100 cents); one with no revenue.
    let revenues = [100, 50, 20, 10, 5, 5, 4, 3, 2, 1];
    let mut ids = Vec::new();
    for (i, r) in revenues.iter().enumerate() {
        let p = app.create(person(&format!("C{i}"), "Value", "")).await;
        app.client
            .clone()
            .set_party_value(app.req(pb::SetPartyValueRequest {
                party_id: p.id.clone(),
                lifetime_revenue: usd(r * 100),
                trailing_12m_revenue: usd(r * 50),
            }))
            .await
            .unwrap();
        ids.push(p.id);
    }
    let idle = app.create(person("No", "Revenue", "")).await;
    // Top 10% / next 20% / rest.
    let config = pb::ValueTierConfig {
        tiers: vec![
            pb::ValueTier {
                name: "gold".into(),
                customer_share_bps: 1000,
            },
            pb::ValueTier {
                name: "silver".into(),
                customer_share_bps: 2000,
            },
            pb::ValueTier {
                name: "bronze".into(),
                customer_share_bps: 7000,
            },
        ],
    };
    app.client
        .clone()
        .update_value_tier_config(app.req(pb::UpdateValueTierConfigRequest {
            config: Some(config.clone()),
        }))
        .await
        .unwrap();
    let recomputed = recompute(&app).await;
    assert_eq!(recomputed.ranked, 10);
    assert_eq!(recomputed.tier_changes, 10);
    let top = app.get(&ids[0]).await.unwrap().value.unwrap();
    assert_eq!((top.contribution_rank, top.tier.as_str()), (1, "gold"));
    assert_eq!(app.get(&ids[2]).await.unwrap().value.unwrap().tier, "silver");
    assert_eq!(app.get(&ids[9]).await.unwrap().value.unwrap().tier, "bronze");
    assert_eq!(
        app.get(&idle.id).await.unwrap().value.unwrap().contribution_rank,
        0
    );

    let pyramid = pyramid(&app).await;
    assert_eq!(pyramid.ranked_customers, 10);
    // Over the value window (the trailing 12 months): half of the lifetime figures here.
    assert_eq!(pyramid.total_revenue.unwrap().amount_minor, 10_000);
    // A value set by hand has no known costs: contribution is revenue, the practice's 20/80
    // (75% here), and no cost to serve is configured.
    assert_eq!(pyramid.total_contribution.unwrap().amount_minor, 10_000);
    assert_eq!(pyramid.top_20_percent_contribution_share_bps, 7500);
    assert_eq!(pyramid.pareto, "20/80");
    assert!(!pyramid.cost_to_serve_known);
    assert_eq!(
        pyramid.top_20_percent_revenue_share_bps, 7500,
        "top 2 of 10 make 150 of 200"
    );
    assert_eq!(
        pyramid.customers_for_80_percent_revenue_bps, 3000,
        "3 customers reach 80%"
    );
    let levels: Vec<(String, i64, i32)> = pyramid
        .levels
        .iter()
        .map(|l| (l.name.clone(), l.customers, l.revenue_share_bps))
        .collect();
    assert_eq!(
        levels,
        vec![
            ("gold".into(), 1, 5000),
            ("silver".into(), 2, 3500),
            ("bronze".into(), 7, 1500)
        ]
    );

    // Recomputing without change publishes no tier events.
    let again = recompute(&app).await;
    assert_eq!(again.tier_changes, 0);

    let types = app.event_types().await;
    // The moves of a re-ranking are announced together.
    let moves: usize = app
        .events()
        .await
        .iter()
        .filter(|e| e.event_type == "crm.customers.parties.tier_changed.v1")
        .map(|e| e.decode::<pb::PartiesTierChanged>().unwrap().changes.len())
        .sum();
    assert_eq!(moves, 10);
    assert_eq!(types.iter().filter(|t| *t == "party.value_changed").count(), 10);
    assert_eq!(types.iter().filter(|t| *t == "value_tiers.changed").count(), 1);
}

/// The pyramid is the one of the last ranking, the one the tiers come from: a change of value
/// shows at the next ranking, whatever the size of the base in between.
/// People of `family` with these revenues (lifetime and trailing alike), in order: their ids.
async fn valued(app: &TestApp, family: &str, revenues: &[i64]) -> Vec<String> {
    let mut ids = Vec::new();
    for (i, revenue) in revenues.iter().enumerate() {
        let p = app.create(person(&format!("{family}{i}"), family, "")).await;
        app.client
            .clone()
            .set_party_value(app.req(pb::SetPartyValueRequest {
                party_id: p.id.clone(),
                lifetime_revenue: usd(*revenue),
                trailing_12m_revenue: usd(*revenue),
            }))
            .await
            .unwrap();
        ids.push(p.id);
    }
    ids
}

/// Waits for the sweeper's ranking at start (with a refresh interval of an hour, the rankings
/// after it are the test's): its pyramid is stored and the flag it took is clear. (The flag
/// alone is clear too before the sweeper sets it at its start.)
async fn start_ranking_done(app: &TestApp) {
    crm_testkit::eventually(
        std::time::Duration::from_secs(30),
        "the start's ranking",
        || async {
            let (flag, pyramid): (i64, i64) = sqlx::query_as(
                "SELECT COUNT(CASE WHEN key = 'value_tiers_dirty' THEN 1 END), \
                 COUNT(CASE WHEN key = 'value_pyramid' THEN 1 END) FROM settings",
            )
            .fetch_one(app.db.pool())
            .await
            .ok()?;
            (flag == 0 && pyramid == 1).then_some(())
        },
    )
    .await;
}

async fn the_pyramid_is_the_last_rankings(backend: Backend) {
    // The sweeper ranks once at start, then not for an hour: the rankings below are the test's.
    let app = TestApp::spawn_with(backend, |s| {
        s.value_refresh_interval = std::time::Duration::from_secs(3600)
    })
    .await;
    start_ranking_done(&app).await;
    let ids = valued(&app, "Value", &[300, 100]).await;
    recompute(&app).await;
    let ranked = pyramid(&app).await;
    assert_eq!(ranked.total_revenue.as_ref().unwrap().amount_minor, 400);
    assert!(ranked.rank_time.is_some());
    sqlx::query(
        "UPDATE parties SET window_revenue_minor = 1000, window_contribution_minor = 1000 WHERE id = $1",
    )
    .bind(&ids[1])
    .execute(app.db.pool())
    .await
    .unwrap();
    assert_eq!(pyramid(&app).await, ranked, "unchanged until the next ranking");
    recompute(&app).await;
    let reranked = pyramid(&app).await;
    assert_eq!(reranked.total_revenue.unwrap().amount_minor, 1300);
    let at = |t: &Option<prost_types::Timestamp>| t.as_ref().map(|t| (t.seconds, t.nanos));
    assert!(at(&reranked.rank_time) > at(&ranked.rank_time));
}

async fn value_input_is_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = app.create(person("A", "B", "")).await;
    let err = app
        .client
        .clone()
        .set_party_value(app.req(pb::SetPartyValueRequest {
            party_id: p.id.clone(),
            lifetime_revenue: Some(Money {
                amount_minor: -1,
                currency_code: "EUR".into(),
            }),
            trailing_12m_revenue: None,
        }))
        .await
        .unwrap_err();
    assert_eq!(
        violated(&err),
        vec![
            "lifetime_revenue.amount_minor",
            "lifetime_revenue.currency_code",
            "trailing_12m_revenue"
        ]
    );
    let err = app
        .client
        .clone()
        .set_party_value(app.req(pb::SetPartyValueRequest {
            party_id: p.id.clone(),
            lifetime_revenue: usd(10),
            trailing_12m_revenue: usd(20),
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["trailing_12m_revenue"]);
    let bad = pb::ValueTierConfig {
        tiers: vec![
            pb::ValueTier {
                name: "Top".into(),
                customer_share_bps: 100,
            },
            pb::ValueTier {
                name: "rest".into(),
                customer_share_bps: 100,
            },
        ],
    };
    let err = app
        .client
        .clone()
        .update_value_tier_config(app.req(pb::UpdateValueTierConfigRequest { config: Some(bad) }))
        .await
        .unwrap_err();
    let fields = violated(&err);
    assert!(
        fields.contains(&"config.tiers[0].name".to_string()) && fields.contains(&"config.tiers".to_string()),
        "{fields:?}"
    );
    let config = app
        .client
        .clone()
        .get_value_tier_config(app.req(pb::GetValueTierConfigRequest {}))
        .await
        .unwrap()
        .into_inner()
        .config
        .unwrap();
    assert_eq!(
        config.tiers.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        vec!["top", "high", "medium", "low"],
        "default unchanged"
    );
    assert_eq!(
        app.get(&p.id).await.unwrap().etag,
        "1",
        "rejected value changes nothing"
    );
}

/// A re-ranking that moves more customers than one event carries announces them in several
/// events, each move once.
async fn many_tier_moves_are_announced_in_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let rows: Vec<pb::PartyImportRow> = (0..600)
        .map(|i| pb::PartyImportRow {
            row: i + 2,
            external_id: format!("c-{i}"),
            party: Some(person(&format!("P{i}"), "Many", "")),
            create_time: None,
        })
        .collect();
    let request = pb::ImportPartiesRequest {
        options: Some(crm_proto::common::v1::ImportOptions {
            source: "legacy".into(),
            validate_only: false,
        }),
        rows,
    };
    let summary = app
        .client
        .clone()
        .import_parties(crm_testkit::authed(futures::stream::iter([request]), &app.admin))
        .await
        .unwrap()
        .into_inner()
        .summary
        .unwrap();
    assert_eq!(summary.created, 600);
    let ids: Vec<String> = app
        .client
        .clone()
        .resolve_external_ids(app.req(pb::ResolveExternalIdsRequest {
            source: "legacy".into(),
            external_ids: (0..600).map(|i| format!("c-{i}")).collect(),
        }))
        .await
        .unwrap()
        .into_inner()
        .parties
        .into_iter()
        .map(|p| p.id)
        .collect();
    for (i, id) in ids.iter().enumerate() {
        app.client
            .clone()
            .set_party_value(app.req(pb::SetPartyValueRequest {
                party_id: id.clone(),
                lifetime_revenue: usd((i as i64 + 1) * 100),
                trailing_12m_revenue: usd((i as i64 + 1) * 100),
            }))
            .await
            .unwrap();
    }
    recompute(&app).await;
    // The periodic re-ranking may also have moved customers while values were being set: every
    // move is announced once, in order, so each customer's moves chain from no tier to its tier.
    let mut moves: std::collections::HashMap<String, Vec<(String, String)>> = Default::default();
    let mut events = 0;
    for e in app.events().await {
        if e.event_type == "crm.customers.parties.tier_changed.v1" {
            let changes = e.decode::<pb::PartiesTierChanged>().unwrap().changes;
            assert!(changes.len() <= 500, "{} moves in one event", changes.len());
            events += 1;
            for c in changes {
                moves
                    .entry(c.party_id)
                    .or_default()
                    .push((c.previous_tier, c.tier));
            }
        }
    }
    assert!(events >= 2, "600 moves in {events} events");
    assert_eq!(moves.len(), 600);
    for id in &ids {
        let mut tier = String::new();
        for (previous, next) in &moves[id] {
            assert_eq!(previous, &tier, "moves of {id}: {:?}", moves[id]);
            tier = next.clone();
        }
        let stored = app.get(id).await.unwrap().value.unwrap().tier;
        assert_eq!(tier, stored, "moves of {id}: {:?}", moves[id]);
    }
}

/// Value is contribution over the trailing twelve months: gross margin (orders less the cost of
/// their goods) less the cost to serve (cases at their priority's cost). A big spender who
/// lapsed years ago is no longer ranked; customers who cost more to serve than they bring sit at
/// the bottom, and the top 20% make 120% of the contribution: the practice's 20/120.
async fn value_is_contribution_over_the_window(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.case_cost = crm_customers::domain::contribution::CaseCosts::parse("1=250.00,2=100.00").unwrap();
        s.value_refresh_interval = std::time::Duration::from_secs(3600);
    })
    .await;
    let now = crm_platform::time::now_micros();
    const DAY: i64 = 86_400_000_000;
    let mut ids = Vec::new();
    for name in ["Top", "Busy", "Needy", "Small", "Lapsed", "Caller"] {
        ids.push(app.create(person(name, "Value", "")).await.id);
    }
    // (party, revenue, cost of goods, days ago)
    let orders = [
        (0, 1_000_000, 400_000, 30),
        (1, 300_000, 200_000, 60),
        (2, 200_000, 150_000, 90),
        (3, 100_000, 75_000, 120),
        (4, 5_000_000, 2_000_000, 3 * 365),
    ];
    for (i, (party, revenue, cost, days)) in orders.iter().enumerate() {
        let order = crm_proto::sales::v1::Order {
            id: format!("o-{i}"),
            party_id: ids[*party].clone(),
            total: usd(*revenue),
            cost: usd(*cost),
            status: crm_proto::sales::v1::OrderStatus::Placed as i32,
            place_time: Some(crm_platform::time::timestamp(now - days * DAY)),
            ..Default::default()
        };
        let placed = crm_proto::sales::v1::OrderPlaced { order: Some(order) };
        app.nats
            .publish_event("sales", "order.placed", &ids[*party], &placed)
            .await;
    }
    // Priority-1 cases at 250.00 each: Busy 5, Needy 3, Small 2, Caller 1.
    let mut case_count = 0;
    for (party, cases) in [(1, 5), (2, 3), (3, 2), (5, 1)] {
        for _ in 0..cases {
            case_count += 1;
            let case = crm_proto::servicedesk::v1::Case {
                id: format!("case-{case_count}"),
                party_id: ids[party].clone(),
                priority: 1,
                open_time: Some(crm_platform::time::timestamp(now - 10 * DAY)),
                ..Default::default()
            };
            let opened = crm_proto::servicedesk::v1::CaseOpened { case: Some(case) };
            app.nats
                .publish_event("servicedesk", "case.opened", &ids[party], &opened)
                .await;
        }
    }
    let contribution = |p: &pb::Party| Some(p.value.as_ref()?.window_contribution.as_ref()?.amount_minor);
    // Orders and cases arrive on two streams, in any order between them: every party's figure
    // is awaited, not only the first and last.
    let expected = [600_000, -25_000, -25_000, -25_000, 0, -25_000];
    let figures = || async {
        let mut out = Vec::new();
        for id in &ids {
            out.push(contribution(&app.get(id).await.ok()?)?);
        }
        Some(out)
    };
    crm_testkit::eventually(std::time::Duration::from_secs(30), "the figures", || async {
        figures().await.filter(|f| f == &expected).map(|_| ())
    })
    .await;
    assert_eq!(figures().await.unwrap(), expected);
    let busy = app.get(&ids[1]).await.unwrap().value.unwrap();
    assert_eq!(busy.window_cost_to_serve.unwrap().amount_minor, 125_000);
    let lapsed = app.get(&ids[4]).await.unwrap().value.unwrap();
    assert_eq!(
        (
            lapsed.lifetime_revenue.unwrap().amount_minor,
            lapsed.lifetime_contribution.unwrap().amount_minor
        ),
        (5_000_000, 3_000_000),
        "lifetime figures are kept beside"
    );

    recompute(&app).await;
    let lapsed = app.get(&ids[4]).await.unwrap().value.unwrap();
    assert_eq!(
        (lapsed.contribution_rank, lapsed.tier.as_str()),
        (0, ""),
        "no business this year"
    );
    let top = app.get(&ids[0]).await.unwrap().value.unwrap();
    assert_eq!((top.contribution_rank, top.tier.as_str()), (1, "top"));
    let pyramid = pyramid(&app).await;
    assert_eq!(pyramid.ranked_customers, 5);
    assert_eq!(pyramid.total_contribution.unwrap().amount_minor, 500_000);
    assert_eq!(pyramid.top_20_percent_contribution_share_bps, 12_000);
    assert_eq!(pyramid.pareto, "20/120");
    assert!(pyramid.cost_to_serve_known);
}

/// The re-rankings after order events store the tiers that move, each with its party's new rank,
/// and leave the ranks that only shifted: a purchase passes many customers at a million. The
/// full sweep and RecomputeValueTiers store every rank.
async fn a_re_ranking_after_orders_stores_tier_moves(backend: Backend) {
    use crm_customers::value::recompute_tiers;
    let app = TestApp::spawn_with(backend, |s| {
        s.value_refresh_interval = std::time::Duration::from_secs(3600)
    })
    .await;
    start_ranking_done(&app).await;
    let ids = valued(&app, "Rank", &[400, 300, 200, 100]).await;
    recompute(&app).await;
    let stored = || async {
        let mut out = Vec::new();
        for id in &ids {
            let (rank, tier): (i64, String) =
                sqlx::query_as("SELECT contribution_rank, tier FROM parties WHERE id = $1")
                    .bind(id)
                    .fetch_one(app.db.pool())
                    .await
                    .unwrap();
            out.push((rank, tier));
        }
        out
    };
    let low = |rank: i64| (rank, "low".to_string());
    let top = |rank: i64| (rank, "top".to_string());
    assert_eq!(stored().await, vec![top(1), low(2), low(3), low(4)]);
    let contribute = |id: &str, amount: i64| {
        let query = sqlx::query(
            "UPDATE parties SET window_revenue_minor = $1, window_contribution_minor = $1 WHERE id = $2",
        )
        .bind(amount)
        .bind(id.to_owned());
        let pool = app.db.pool().clone();
        async move { query.execute(&pool).await.unwrap() }
    };
    let rerank = || {
        let db = app.db.clone();
        async move {
            let mut tx = db.begin().await.unwrap();
            recompute_tiers(&mut tx, "test", 1).await.unwrap();
            tx.commit().await.unwrap();
        }
    };

    // The last passes the third: both stay low, and their stored ranks stay.
    contribute(&ids[3], 250).await;
    rerank().await;
    assert_eq!(stored().await, vec![top(1), low(2), low(3), low(4)]);
    // It passes the first: both move tier and take their new ranks; the others keep theirs.
    contribute(&ids[3], 500).await;
    rerank().await;
    assert_eq!(stored().await, vec![low(2), low(2), low(3), top(1)]);
    // Every rank.
    let every = recompute(&app).await;
    let ranking = every.ranking.unwrap();
    assert!(
        ranking.finish_time.is_some(),
        "a small base is re-ranked within the call"
    );
    assert_eq!((ranking.to_move, ranking.moved, ranking.tier_changes), (2, 2, 0));
    assert_eq!(stored().await, vec![low(2), low(3), low(4), top(1)]);
}

/// RecomputeValueTiers stages the moves of one ranking and stores them a range of parties per
/// transaction: the call answers with the ranking under way once it may wait no longer, a second
/// call answers with the same ranking, two replicas store a range once, and the job finishes it.
async fn a_re_ranking_of_every_rank_is_stored_a_range_at_a_time(backend: Backend) {
    use crm_customers::ranking;
    use crm_customers::storage::rankings;
    use crm_platform::clock::SystemClock;
    // The call stores nothing itself; the sweeper and the job stay away for an hour.
    let app = TestApp::spawn_with(backend, |s| {
        s.value_refresh_interval = std::time::Duration::from_secs(3600);
        s.ranking_wait = std::time::Duration::ZERO;
    })
    .await;
    start_ranking_done(&app).await;
    let rows: Vec<pb::PartyImportRow> = (0..4_500)
        .map(|i| crate::import::row(i + 1, &format!("R{i:05}"), &format!("Ranked{i}"), ""))
        .collect();
    let batches = rows.chunks(500).map(<[_]>::to_vec).collect();
    let summary = crate::import::import(&app, &app.admin, "ranking", false, batches)
        .await
        .unwrap();
    assert_eq!(summary.created, 4_500);
    // The same contribution each: ranked by id.
    sqlx::query("UPDATE parties SET window_revenue_minor = 100, window_contribution_minor = 100")
        .execute(app.db.pool())
        .await
        .unwrap();
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM parties ORDER BY id")
        .fetch_all(app.db.pool())
        .await
        .unwrap();
    let stored = |id: String| {
        let pool = app.db.pool().clone();
        async move {
            sqlx::query_as::<_, (i64, String)>("SELECT contribution_rank, tier FROM parties WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let latest = || async {
        let pyramid = pyramid(&app).await;
        (pyramid.ranked_customers, pyramid.ranking.unwrap())
    };
    let count = |sql: &'static str| {
        let pool = app.db.pool().clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap() }
    };

    let first = recompute(&app).await;
    let ranking = first.ranking.unwrap();
    assert!(ranking.stage_time.is_none() && ranking.finish_time.is_none());
    // A second call finds it under way: the same ranking, not another.
    let again = recompute(&app).await.ranking.unwrap();
    assert_eq!(again.start_time, ranking.start_time);

    // Its first step stages the moves of one ranking of the whole base, and its pyramid, which
    // GetValuePyramid shows from then; no party is stored yet. Staged once only.
    assert!(ranking::next_page(&app.db, &SystemClock).await.unwrap());
    let (ranked, staged) = latest().await;
    assert!(staged.stage_time.is_some() && staged.finish_time.is_none());
    assert_eq!(
        (ranked, staged.ranked, staged.to_move, staged.moved),
        (4_500, 4_500, 4_500, 0)
    );
    assert_eq!(
        stored(ids[0].clone()).await,
        (0, String::new()),
        "nothing stored yet"
    );
    let run_id = {
        let mut conn = app.db.pool().acquire().await.unwrap();
        let latest = rankings::latest(&mut conn).await.unwrap().unwrap();
        assert!(!rankings::take_staging(&mut conn, &latest.run_id).await.unwrap());
        // The sweeper's re-ranking of tier moves stays away meanwhile.
        assert!(!rankings::hold_unless_under_way(&mut conn).await.unwrap());
        latest.run_id
    };
    assert_eq!(
        count("SELECT COUNT(*) FROM tier_ranking_moves").await,
        4_500,
        "the moves of {run_id} kept"
    );

    // A page stores one range of parties, and no further.
    assert!(ranking::next_page(&app.db, &SystemClock).await.unwrap());
    let (_, after_one) = latest().await;
    assert_eq!((after_one.moved, after_one.tier_changes), (2_000, 2_000));
    assert_eq!(stored(ids[0].clone()).await, (1, "top".to_string()));
    assert_eq!(stored(ids[1_999].clone()).await, (2_000, "low".to_string()));
    assert_eq!(stored(ids[2_000].clone()).await, (0, String::new()));
    // (The flag the ranking's end sets, checked below.)
    sqlx::query("DELETE FROM settings WHERE key = 'value_tiers_dirty'")
        .execute(app.db.pool())
        .await
        .unwrap();
    // Two replicas take the next range at once: each party is stored and announced once, and
    // counted once. The second waits for the first, then finds its range stored (or, when it read
    // the ranking after the first committed, stores the last range).
    let (a, b) = tokio::join!(
        ranking::next_page(&app.db, &SystemClock),
        ranking::next_page(&app.db, &SystemClock)
    );
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
    let (_, after_two) = latest().await;
    let ranked = count("SELECT COUNT(*) FROM parties WHERE contribution_rank > 0").await;
    let announced = count("SELECT COUNT(*) FROM audit_log WHERE action = 'tier_changed'").await;
    assert!(after_two.moved > 2_000, "{after_two:?}");
    assert_eq!((after_two.moved, after_two.tier_changes), (ranked, announced));

    // The job takes it once its call stopped waiting, and stores the rest.
    // (Unless the second replica above stored the last range and ended it.)
    let taken = ranking::run_pending(&app.db, &SystemClock, i64::MAX)
        .await
        .unwrap();
    assert_eq!(taken, after_two.finish_time.is_none());
    let (_, done) = latest().await;
    assert!(done.finish_time.is_some());
    assert_eq!((done.moved, done.tier_changes), (4_500, 4_500));
    for (i, id) in ids.iter().enumerate() {
        let (rank, tier) = stored(id.clone()).await;
        let expected = match i {
            0..45 => "top",
            45..225 => "high",
            225..900 => "medium",
            _ => "low",
        };
        assert_eq!((rank, tier.as_str()), (i as i64 + 1, expected), "party {i}");
    }
    assert_eq!(
        count("SELECT COUNT(*) FROM parties WHERE tier <> announced_tier").await,
        0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM tier_ranking_moves").await,
        0,
        "cleared at its end"
    );
    let mut conn = app.db.pool().acquire().await.unwrap();
    assert!(rankings::hold_unless_under_way(&mut conn).await.unwrap());
    drop(conn);
    assert_eq!(
        count("SELECT COUNT(*) FROM audit_log WHERE action = 'tier_changed'").await,
        4_500
    );
    // Its end leaves the changes of value since its staging to the sweeper's next re-ranking.
    assert_eq!(
        count("SELECT COUNT(*) FROM settings WHERE key = 'value_tiers_dirty'").await,
        1
    );
    assert!(
        !ranking::run_pending(&app.db, &SystemClock, i64::MAX)
            .await
            .unwrap()
    );

    // The last by id contributes most: every rank shifts, four parties change tier, and a
    // ranking that has ended lets a new one start.
    sqlx::query("UPDATE parties SET window_contribution_minor = 1000 WHERE id = $1")
        .bind(ids[4_499].clone())
        .execute(app.db.pool())
        .await
        .unwrap();
    let second = recompute(&app).await.ranking.unwrap();
    assert_ne!(second.start_time, ranking.start_time);
    assert!(second.stage_time.is_none());
    ranking::finish(&app.db, &SystemClock).await.unwrap();
    let (_, done) = latest().await;
    assert_eq!((done.to_move, done.moved, done.tier_changes), (4_500, 4_500, 4));
    assert_eq!(stored(ids[4_499].clone()).await, (1, "top".to_string()));
    assert_eq!(stored(ids[44].clone()).await, (46, "high".to_string()));
    assert_eq!(stored(ids[0].clone()).await, (2, "top".to_string()));
}

/// The full sweep walks the parties of both ledgers by id, a page at a time, each once: a party
/// with more orders than a page, parties with cases only and parties in both.
async fn the_full_sweep_pages_through_both_ledgers(backend: Backend) {
    use crm_customers::storage::orders::{self, LedgerEntry};
    let app = TestApp::spawn(backend).await;
    let order = |n: i64, party: &str| LedgerEntry {
        order_id: format!("order-{n}"),
        party_id: party.to_string(),
        placed_at: n,
        amount_minor: 100,
        currency_code: "USD".into(),
        status: "placed",
        cost_minor: 0,
    };
    // p1 and p4 have orders (p1 seven), p2 and p5 cases only (p5 two), p3 and p6 both.
    let mut entries: Vec<LedgerEntry> = (0..7).map(|n| order(n, "p1")).collect();
    entries.extend([order(10, "p3"), order(11, "p4"), order(12, "p6")]);
    let cases: Vec<(String, String, i64, i32)> = [
        ("c1", "p2"),
        ("c2", "p3"),
        ("c3", "p5"),
        ("c4", "p5"),
        ("c5", "p6"),
    ]
    .into_iter()
    .map(|(case, party)| (case.to_string(), party.to_string(), 1, 1))
    .collect();
    let mut conn = app.db.pool().acquire().await.unwrap();
    orders::record(&mut conn, &entries).await.unwrap();
    orders::record_cases(&mut conn, &cases).await.unwrap();
    for limit in [1, 2, 4, 100] {
        let (mut walked, mut after) = (Vec::new(), String::new());
        loop {
            let page = orders::parties_with_orders(&mut conn, &after, limit)
                .await
                .unwrap();
            assert!(page.len() as i64 <= limit, "a page of {limit} held {page:?}");
            let Some(last) = page.last() else {
                break;
            };
            after = last.clone();
            walked.extend(page);
        }
        assert_eq!(walked, ["p1", "p2", "p3", "p4", "p5", "p6"], "pages of {limit}");
    }
}

backend_tests!(
    the_full_sweep_pages_through_both_ledgers,
    a_re_ranking_of_every_rank_is_stored_a_range_at_a_time,
    a_re_ranking_after_orders_stores_tier_moves,
    value_is_contribution_over_the_window,
    the_pyramid_is_the_last_rankings,
    value_tiers_pyramid_and_pareto,
    value_input_is_checked,
    many_tier_moves_are_announced_in_pages
);
