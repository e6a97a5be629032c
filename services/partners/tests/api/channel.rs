use crm_proto::partners::v1::{self as pb, PartnerStatus, PartnerType};
use crm_testkit::{Backend, authed, backend_tests};
use tonic::Code;

use crate::helpers::{Suite, money, partner_user, violated};

async fn hierarchy_and_lifecycle(backend: Backend) {
    let suite = Suite::start(backend).await;
    let master = suite
        .partner("Master North", PartnerType::MasterDistributor, "", &["TW"])
        .await;
    let dist = suite
        .partner(
            "Distributor Taipei",
            PartnerType::Distributor,
            &master.id,
            &["TW-TPE"],
        )
        .await;
    let dealer = suite
        .partner("Dealer Xinyi", PartnerType::Dealer, &dist.id, &["TW-TPE"])
        .await;
    let other = suite
        .partner("Master South", PartnerType::MasterDistributor, "", &["TW-KHH"])
        .await;
    assert_eq!(master.status, PartnerStatus::Onboarding as i32);

    let bad = suite
        .partners
        .clone()
        .create_partner(suite.req(pb::CreatePartnerRequest {
            partner: Some(pb::Partner {
                region_codes: vec!["north".into()],
                parent_id: "nope".into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        violated(&bad),
        vec![
            "partner.name",
            "partner.type",
            "partner.operating_model",
            "partner.region_codes[0]",
            "partner.parent_id"
        ]
    );
    let dup = suite
        .partners
        .clone()
        .create_partner(suite.req(pb::CreatePartnerRequest {
            partner: Some(pb::Partner {
                name: "Master North".into(),
                r#type: PartnerType::Dealer as i32,
                operating_model: pb::OperatingModel::Consignment as i32,
                ..Default::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(dup.code(), Code::AlreadyExists);
    // A partner cannot be moved below its own sub-partner.
    let cycle = suite
        .partners
        .clone()
        .update_partner(suite.req(pb::UpdatePartnerRequest {
            partner: Some(pb::Partner {
                id: master.id.clone(),
                etag: master.etag.clone(),
                parent_id: dealer.id.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["parent_id".into()],
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&cycle), vec!["partner.parent_id"]);

    let tree = suite
        .partners
        .clone()
        .get_partner_tree(suite.req(pb::GetPartnerTreeRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .nodes;
    let got: Vec<(&str, i32)> = tree
        .iter()
        .map(|n| (n.partner.as_ref().unwrap().name.as_str(), n.depth))
        .collect();
    assert_eq!(
        got,
        vec![
            ("Master North", 0),
            ("Distributor Taipei", 1),
            ("Dealer Xinyi", 2),
            ("Master South", 0)
        ]
    );

    // Lists filter by type, region (the whole code), parent and status, and page by id.
    let list = |req: pb::ListPartnersRequest| {
        let mut client = suite.partners.clone();
        let req = suite.req(req);
        async move {
            let mut names: Vec<String> = client
                .list_partners(req)
                .await
                .unwrap()
                .into_inner()
                .partners
                .into_iter()
                .map(|p| p.name)
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(
        list(pb::ListPartnersRequest {
            r#type: PartnerType::Dealer as i32,
            ..Default::default()
        })
        .await,
        ["Dealer Xinyi"]
    );
    assert_eq!(
        list(pb::ListPartnersRequest {
            region_code: "TW-TPE".into(),
            ..Default::default()
        })
        .await,
        ["Dealer Xinyi", "Distributor Taipei"]
    );
    assert_eq!(
        list(pb::ListPartnersRequest {
            region_code: "TW".into(),
            ..Default::default()
        })
        .await,
        ["Master North"]
    );
    assert_eq!(
        list(pb::ListPartnersRequest {
            parent_id: master.id.clone(),
            ..Default::default()
        })
        .await,
        ["Distributor Taipei"]
    );
    // A chooser's search: the names starting so, in any case.
    for (prefix, names) in [
        ("master", &["Master North", "Master South"][..]),
        ("DEALER x", &["Dealer Xinyi"][..]),
        ("%", &[][..]),
        ("Nobody", &[][..]),
    ] {
        assert_eq!(
            list(pb::ListPartnersRequest {
                name_prefix: prefix.into(),
                ..Default::default()
            })
            .await,
            names,
            "{prefix}"
        );
    }
    assert_eq!(
        list(pb::ListPartnersRequest {
            status: PartnerStatus::Onboarding as i32,
            r#type: PartnerType::MasterDistributor as i32,
            ..Default::default()
        })
        .await,
        ["Master North", "Master South"]
    );
    let mut ids = Vec::new();
    let mut token = String::new();
    loop {
        let page = suite
            .partners
            .clone()
            .list_partners(suite.req(pb::ListPartnersRequest {
                page_size: 3,
                page_token: token,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(page.partners.len() <= 3);
        ids.extend(page.partners.into_iter().map(|p| p.id));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    let mut expected = vec![
        master.id.clone(),
        dist.id.clone(),
        dealer.id.clone(),
        other.id.clone(),
    ];
    expected.sort();
    assert_eq!(ids, expected, "every partner once, by id");

    // Lifecycle.
    let change = |p: &pb::Partner, status: PartnerStatus, reason: &str| pb::ChangePartnerStatusRequest {
        id: p.id.clone(),
        etag: p.etag.clone(),
        status: status as i32,
        reason: reason.into(),
        effective_date: "2026-07-01".into(),
    };
    let err = suite
        .partners
        .clone()
        .change_partner_status(suite.req(change(&dealer, PartnerStatus::Probation, "late payments")))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::FailedPrecondition,
        "onboarding partners are activated first"
    );
    let active = suite
        .partners
        .clone()
        .change_partner_status(suite.req(change(&dealer, PartnerStatus::Active, "")))
        .await
        .unwrap()
        .into_inner()
        .partner
        .unwrap();
    let err = suite
        .partners
        .clone()
        .change_partner_status(suite.req(change(&active, PartnerStatus::Probation, "")))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["reason"]);
    let probation = suite
        .partners
        .clone()
        .change_partner_status(suite.req(change(&active, PartnerStatus::Probation, "missed targets")))
        .await
        .unwrap()
        .into_inner()
        .partner
        .unwrap();
    let terminated = suite
        .partners
        .clone()
        .change_partner_status(suite.req(change(&probation, PartnerStatus::Terminated, "contract ended")))
        .await
        .unwrap()
        .into_inner()
        .partner
        .unwrap();
    let history: Vec<(i32, &str)> = terminated
        .status_history
        .iter()
        .map(|c| (c.to_status, c.reason.as_str()))
        .collect();
    assert_eq!(
        history,
        vec![(2, ""), (3, "missed targets"), (4, "contract ended")]
    );
    assert_eq!(terminated.status_history[2].effective_date, "2026-07-01");
    let err = suite
        .partners
        .clone()
        .change_partner_status(suite.req(change(&terminated, PartnerStatus::Active, "")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let stale = suite
        .partners
        .clone()
        .change_partner_status(suite.req(change(&dealer, PartnerStatus::Active, "")))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition);
    let _ = other;
}

async fn partner_users_see_only_their_part_of_the_channel(backend: Backend) {
    let suite = Suite::start(backend).await;
    let master = suite
        .partner("Master North", PartnerType::MasterDistributor, "", &["TW"])
        .await;
    let dist = suite
        .partner(
            "Distributor Taipei",
            PartnerType::Distributor,
            &master.id,
            &["TW-TPE"],
        )
        .await;
    let dealer = suite
        .partner("Dealer Xinyi", PartnerType::Dealer, &dist.id, &["TW-TPE"])
        .await;
    let rival = suite
        .partner("Rival Dealer", PartnerType::Dealer, &master.id, &["TW-TPE"])
        .await;
    let user = partner_user("dist-user", &dist.id);
    let listed = suite
        .partners
        .clone()
        .list_partners(authed(pb::ListPartnersRequest::default(), &user))
        .await
        .unwrap()
        .into_inner()
        .partners;
    let mut names: Vec<String> = listed.into_iter().map(|p| p.name).collect();
    names.sort();
    assert_eq!(names, vec!["Dealer Xinyi", "Distributor Taipei"]);
    suite
        .partners
        .clone()
        .get_partner(authed(
            pb::GetPartnerRequest {
                id: dealer.id.clone(),
            },
            &user,
        ))
        .await
        .unwrap();
    for id in [&master.id, &rival.id] {
        let err = suite
            .partners
            .clone()
            .get_partner(authed(pb::GetPartnerRequest { id: id.clone() }, &user))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
    }
    let tree = suite
        .partners
        .clone()
        .get_partner_tree(authed(pb::GetPartnerTreeRequest::default(), &user))
        .await
        .unwrap()
        .into_inner()
        .nodes;
    assert_eq!(tree.len(), 2);
    let report = |partner: &str| pb::ReportSalesRequest {
        report_id: "r-1".into(),
        partner_id: partner.into(),
        lines: vec![pb::SellThrough {
            product_id: "p".into(),
            quantity: 1,
            amount: money(100),
            sold_on: "2026-01-05".into(),
            ..Default::default()
        }],
    };
    let err = suite
        .partners
        .clone()
        .report_sales(authed(report(&rival.id), &user))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = suite
        .partners
        .clone()
        .report_sales(authed(report(&dealer.id), &user))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::PermissionDenied,
        "a partner reports its own sales"
    );
    suite
        .partners
        .clone()
        .report_sales(authed(report(&dist.id), &user))
        .await
        .unwrap();
    let err = suite
        .partners
        .clone()
        .set_target(authed(
            pb::SetTargetRequest {
                target: Some(pb::Target {
                    partner_id: dist.id.clone(),
                    period: "2026".into(),
                    amount: money(1),
                    ..Default::default()
                }),
            },
            &user,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::PermissionDenied,
        "targets are set by channel managers"
    );
    // Targets are listed for the user's own part of the channel only.
    for (partner, period) in [
        (&dist.id, "2026-01"),
        (&rival.id, "2026-01"),
        (&dealer.id, "2026-02"),
    ] {
        suite
            .set_target(pb::Target {
                partner_id: partner.clone(),
                period: period.into(),
                amount: money(1000),
                ..Default::default()
            })
            .await;
    }
    let targets = suite
        .partners
        .clone()
        .list_targets(authed(pb::ListTargetsRequest::default(), &user))
        .await
        .unwrap()
        .into_inner()
        .targets;
    let mut seen: Vec<&str> = targets.iter().map(|t| t.partner_id.as_str()).collect();
    seen.sort();
    let mut own = vec![dist.id.as_str(), dealer.id.as_str()];
    own.sort();
    assert_eq!(seen, own, "the rival's target is not listed");
    let no_partner = crm_testkit::token("lost", &[crm_auth::Role::PartnerUser]);
    let listed = suite
        .partners
        .clone()
        .list_partners(authed(pb::ListPartnersRequest::default(), &no_partner))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.partners.is_empty());
}

backend_tests!(
    hierarchy_and_lifecycle,
    partner_users_see_only_their_part_of_the_channel
);
