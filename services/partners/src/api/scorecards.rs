//! Partner scorecards.

use crm_auth::Principal;
use crm_platform::paging::{decode_parts, finish_page, key_of, page_size};
use crm_proto::partners::v1::events as ev;
use crm_proto::partners::v1::{self as pb, TierRecommendation};

use super::sales::period_range;
use super::{PartnersApi, visible_partner};
use crate::domain::performance::{Dimension, windows};
use crate::domain::rules::is_date;
use crate::domain::scorecard::{self, Inputs, Recommendation, Settings};
use crate::error::{Result, invalid};
use crate::events;
use crate::storage::partners::Reach;
use crate::storage::performance::{self as figures, Filter, SaleSum};
use crate::storage::scorecards;

impl PartnersApi {
    pub(super) async fn handle_evaluate_scorecard(
        &self,
        principal: &Principal,
        req: pb::EvaluateScorecardRequest,
    ) -> Result<pb::EvaluateScorecardResponse> {
        let (period, from, to) = period_range(&req.period, "period")?;
        let currency = if req.currency_code.is_empty() {
            "USD".to_string()
        } else {
            req.currency_code.clone()
        };
        let mut tx = self.store.begin().await?;
        let partner = visible_partner(&mut tx, principal, &req.partner_id).await?;
        // Same period a year earlier.
        let last_year = crm_calendar::Period::parse(&format!(
            "{}{}",
            period.start.format("%Y").to_string().parse::<i32>().unwrap_or(0) - 1,
            &period.code()[4..]
        ))
        .ok_or_else(|| invalid("period", "no previous year"))?;
        let (ly_from, ly_to) = (
            last_year.start.format("%Y-%m-%d").to_string(),
            last_year.end_exclusive().format("%Y-%m-%d").to_string(),
        );
        // The partner's figures with everything below it, added up in SQL.
        let reach = Reach::Tree(&partner.id);
        let filter = Filter {
            currency: &currency,
            category: "",
            region: "",
        };
        let by = Dimension::Partner;
        let sold = |rows: Vec<SaleSum>| rows.iter().map(|r| r.amount_minor).sum::<i64>();
        let inputs = Inputs {
            target_minor: figures::targets(&mut tx, reach, by, &windows(&period, by), filter)
                .await?
                .iter()
                .map(|t| t.amount_minor)
                .sum(),
            actual_minor: sold(figures::sales(&mut tx, reach, by, &from, &to, filter).await?),
            last_year_minor: sold(figures::sales(&mut tx, reach, by, &ly_from, &ly_to, filter).await?),
            complaints: scorecards::complaints(&mut tx, &partner.id, &from, &to).await?,
            returned_minor: scorecards::returned(&mut tx, &partner.id, &from, &to, &currency).await?,
        };
        let settings = scorecards::settings(&mut tx).await?;
        let (kpis, score, recommendation) = scorecard::evaluate(&inputs, &settings);
        let card = pb::Scorecard {
            partner_id: partner.id.clone(),
            period: period.code(),
            kpis: kpis
                .into_iter()
                .map(|k| pb::Kpi {
                    name: k.name.into(),
                    value: k.value,
                    score: k.score,
                    weight_bps: k.weight_bps,
                })
                .collect(),
            score,
            recommendation: match recommendation {
                Recommendation::Promote => TierRecommendation::Promote,
                Recommendation::Keep => TierRecommendation::Keep,
                Recommendation::Demote => TierRecommendation::Demote,
            } as i32,
            evaluate_time: Some(crate::storage::timestamp(self.store.now_micros())),
            evaluator_id: principal.user_id.clone(),
        };
        scorecards::insert(&mut tx, &card, self.store.now_micros()).await?;
        events::publish(
            &mut tx,
            ev::SCORECARD_EVALUATED,
            &partner.id,
            &pb::ScorecardEvaluated {
                scorecard: Some(card.clone()),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::EvaluateScorecardResponse {
            scorecard: Some(card),
        })
    }

    pub(super) async fn handle_list_scorecards(
        &self,
        principal: &Principal,
        req: pb::ListScorecardsRequest,
    ) -> Result<pb::ListScorecardsResponse> {
        let mut v = crm_platform::Violations::new();
        let size = page_size(req.page_size, 100, 500, &mut v);
        let before = decode_parts(&req.page_token, 1, &mut v).and_then(|k| k[0].parse::<i64>().ok());
        v.finish()?;
        let mut conn = self.store.conn().await?;
        visible_partner(&mut conn, principal, &req.partner_id).await?;
        let rows = scorecards::history(&mut conn, &req.partner_id, before, size + 1).await?;
        let (rows, next_page_token) = finish_page(rows, size, |(seq, _)| key_of(&[seq.to_string()]));
        Ok(pb::ListScorecardsResponse {
            scorecards: rows.into_iter().map(|(_, card)| card).collect(),
            next_page_token,
        })
    }

    pub(super) async fn handle_record_complaint(
        &self,
        principal: &Principal,
        req: pb::RecordComplaintRequest,
    ) -> Result<pb::RecordComplaintResponse> {
        let mut v = crm_platform::Violations::new();
        v.check(
            req.reference.trim().is_empty() || req.reference.len() > 200,
            "reference",
            "1 to 200 characters",
        );
        v.check(!is_date(&req.occurred_on), "occurred_on", "a date YYYY-MM-DD");
        v.finish()?;
        let mut tx = self.store.begin().await?;
        visible_partner(&mut tx, principal, &req.partner_id).await?;
        let recorded =
            scorecards::record_complaint(&mut tx, &req.partner_id, req.reference.trim(), &req.occurred_on)
                .await?;
        self.store.commit(tx).await?;
        Ok(pb::RecordComplaintResponse { recorded })
    }

    pub(super) async fn handle_get_scorecard_settings(
        &self,
        _p: &Principal,
        _req: pb::GetScorecardSettingsRequest,
    ) -> Result<pb::GetScorecardSettingsResponse> {
        let mut conn = self.store.conn().await?;
        Ok(pb::GetScorecardSettingsResponse {
            settings: Some(settings_proto(&scorecards::settings(&mut conn).await?)),
        })
    }

    pub(super) async fn handle_update_scorecard_settings(
        &self,
        _p: &Principal,
        req: pb::UpdateScorecardSettingsRequest,
    ) -> Result<pb::UpdateScorecardSettingsResponse> {
        let s = req.settings.ok_or_else(|| invalid("settings", "required"))?;
        let settings = Settings {
            attainment_weight_bps: s.attainment_weight_bps,
            growth_weight_bps: s.growth_weight_bps,
            complaints_weight_bps: s.complaints_weight_bps,
            returns_weight_bps: s.returns_weight_bps,
            promote_at: s.promote_at,
            demote_below: s.demote_below,
        };
        scorecard::validate(&settings).finish()?;
        let mut tx = self.store.begin().await?;
        scorecards::set_settings(&mut tx, &settings).await?;
        self.store.commit(tx).await?;
        Ok(pb::UpdateScorecardSettingsResponse { settings: Some(s) })
    }
}

fn settings_proto(s: &Settings) -> pb::ScorecardSettings {
    pb::ScorecardSettings {
        attainment_weight_bps: s.attainment_weight_bps,
        growth_weight_bps: s.growth_weight_bps,
        complaints_weight_bps: s.complaints_weight_bps,
        returns_weight_bps: s.returns_weight_bps,
        promote_at: s.promote_at,
        demote_below: s.demote_below,
    }
}
