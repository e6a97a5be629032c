//! The gRPC API of the marketing service.

mod campaigns;
mod predictions;
mod profiles;
mod transfer;

use std::sync::Arc;

use crm_platform::Store;
use crm_proto::marketing::v1 as pb;
use crm_proto::marketing::v1::campaign_service_server::CampaignService;
use crm_proto::marketing::v1::marketing_service_server::MarketingService;
use crm_proto::marketing::v1::prediction_service_server::PredictionService;

use crate::config::MarketingSettings;
use crate::error::{Result, invalid};

/// The marketing gRPC services.
#[derive(Debug, Clone)]
pub struct MarketingApi {
    store: Store,
    config: Arc<MarketingSettings>,
    /// Held while the first RFM boundaries are computed.
    first_cuts: Arc<tokio::sync::Mutex<()>>,
}

impl MarketingApi {
    /// Today (UTC) by the service's clock.
    fn today(&self) -> chrono::NaiveDate {
        crm_platform::time::naive_utc(self.store.now_micros()).date()
    }

    /// An as-of date (empty: today).
    fn as_of(&self, s: &str) -> Result<chrono::NaiveDate> {
        if s.is_empty() {
            return Ok(self.today());
        }
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| invalid("as_of", "a date YYYY-MM-DD"))
    }

    /// The services on `store`.
    pub fn new(store: Store, config: Arc<MarketingSettings>) -> Self {
        Self {
            store,
            config,
            first_cuts: Arc::default(),
        }
    }

    /// The RFM boundaries in the reporting currency.
    async fn cuts(&self) -> Result<crate::domain::rfm::Cuts> {
        Ok(crate::scores::cuts(&self.store, &self.first_cuts, &self.config.reporting_currency).await?)
    }

    /// The boundaries scoring at `date` needs: the stored ones from today on, none before.
    async fn scoring_cuts(&self, date: chrono::NaiveDate) -> Result<crate::domain::rfm::Cuts> {
        if date >= self.today() {
            self.cuts().await
        } else {
            Ok(crate::domain::rfm::Cuts::default())
        }
    }

    /// How the base is scored at `date`: today (or later) against the stored boundaries, a past
    /// date by ranking the purchases up to its end.
    fn scoring<'a>(
        &self,
        date: chrono::NaiveDate,
        cuts: &'a crate::domain::rfm::Cuts,
    ) -> crate::storage::rfm::Scoring<'a> {
        if date >= self.today() {
            crate::storage::rfm::Scoring::Current(cuts)
        } else {
            crate::storage::rfm::Scoring::Before(end_of(date))
        }
    }

    /// What selecting an audience needs today.
    fn audience<'a>(&'a self, cuts: &'a crate::domain::rfm::Cuts) -> crate::storage::audience::Context<'a> {
        crate::storage::audience::Context {
            backend: self.store.db().backend(),
            currency: &self.config.reporting_currency,
            cuts,
            today: (self.today() - chrono::NaiveDate::default()).num_days(),
        }
    }
}

crm_platform::grpc_handlers! {
    impl MarketingService for MarketingApi {
        get_profile(pb::GetProfileRequest) -> pb::GetProfileResponse => handle_get_profile;
        recompute_profiles(pb::RecomputeProfilesRequest) -> pb::RecomputeProfilesResponse => handle_recompute_profiles;
        list_rfm_scores(pb::ListRfmScoresRequest) -> pb::ListRfmScoresResponse => handle_list_rfm_scores;
        get_rfm_cells(pb::GetRfmCellsRequest) -> pb::GetRfmCellsResponse => handle_get_rfm_cells;
        preview_segment(pb::PreviewSegmentRequest) -> pb::PreviewSegmentResponse => handle_preview_segment;
        create_segment(pb::CreateSegmentRequest) -> pb::CreateSegmentResponse => handle_create_segment;
        list_segments(pb::ListSegmentsRequest) -> pb::ListSegmentsResponse => handle_list_segments;
        list_profile_campaigns(pb::ListProfileCampaignsRequest) -> pb::ListProfileCampaignsResponse => handle_list_profile_campaigns;
        list_segment_members(pb::ListSegmentMembersRequest) -> pb::ListSegmentMembersResponse => handle_list_segment_members;
        set_consent(pb::SetConsentRequest) -> pb::SetConsentResponse => handle_set_consent;
        record_contact_feedback(pb::RecordContactFeedbackRequest) -> pb::RecordContactFeedbackResponse => handle_record_contact_feedback;
        get_consent(pb::GetConsentRequest) -> pb::GetConsentResponse => handle_get_consent;
    }
    streaming {
        client import_consents(pb::ImportConsentsRequest) -> pb::ImportConsentsResponse => handle_import_consents;
        server export_segment_members(pb::ExportSegmentMembersRequest) -> pb::ExportSegmentMembersResponse as ExportSegmentMembersStream => handle_export_segment_members;
    }
}

crm_platform::grpc_handlers! {
    impl CampaignService for MarketingApi {
        create_campaign(pb::CreateCampaignRequest) -> pb::CreateCampaignResponse => handle_create_campaign;
        get_campaign(pb::GetCampaignRequest) -> pb::GetCampaignResponse => handle_get_campaign;
        list_campaigns(pb::ListCampaignsRequest) -> pb::ListCampaignsResponse => handle_list_campaigns;
        select_members(pb::SelectMembersRequest) -> pb::SelectMembersResponse => handle_select_members;
        start_test(pb::StartTestRequest) -> pb::StartTestResponse => handle_start_test;
        record_response(pb::RecordResponseRequest) -> pb::RecordResponseResponse => handle_record_response;
        get_test_results(pb::GetTestResultsRequest) -> pb::GetTestResultsResponse => handle_get_test_results;
        roll_out(pb::RollOutRequest) -> pb::RollOutResponse => handle_roll_out;
        close_campaign(pb::CloseCampaignRequest) -> pb::CloseCampaignResponse => handle_close_campaign;
        list_campaign_members(pb::ListCampaignMembersRequest) -> pb::ListCampaignMembersResponse => handle_list_campaign_members;
        get_campaign_performance(pb::GetCampaignPerformanceRequest) -> pb::GetCampaignPerformanceResponse => handle_get_campaign_performance;
    }
    streaming {
        server export_campaign_members(pb::ExportCampaignMembersRequest) -> pb::ExportCampaignMembersResponse as ExportCampaignMembersStream => handle_export_campaign_members;
    }
}

crm_platform::grpc_handlers! {
    impl PredictionService for MarketingApi {
        fit_models(pb::FitModelsRequest) -> pb::FitModelsResponse => handle_fit_models;
        get_fit_job(pb::GetFitJobRequest) -> pb::GetFitJobResponse => handle_get_fit_job;
        get_prediction(pb::GetPredictionRequest) -> pb::GetPredictionResponse => handle_get_prediction;
        list_churn_risks(pb::ListChurnRisksRequest) -> pb::ListChurnRisksResponse => handle_list_churn_risks;
        list_key_customers(pb::ListKeyCustomersRequest) -> pb::ListKeyCustomersResponse => handle_list_key_customers;
        list_product_affinities(pb::ListProductAffinitiesRequest) -> pb::ListProductAffinitiesResponse => handle_list_product_affinities;
        get_recommendations(pb::GetRecommendationsRequest) -> pb::GetRecommendationsResponse => handle_get_recommendations;
    }
}

/// The end of `date` (UTC), in µs.
pub(crate) fn end_of(date: chrono::NaiveDate) -> i64 {
    (date + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp_micros()
}

/// The UTC day of a time in µs.
pub(crate) fn day_of(micros: i64) -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .date_naive()
}
