//! Bulk import of consent, and exports of segment and campaign members for the systems that
//! contact them.

use std::collections::{BTreeSet, HashMap};

use crm_auth::Principal;
use crm_platform::Violations;
use crm_platform::export;
use crm_platform::import::{Disposition, ImportRun};
use crm_platform::service::ResponseStream;
use crm_proto::marketing::v1 as pb;
use crm_storage::imports::{self, NewImportKey};

use super::MarketingApi;
use super::profiles::check_channel;
use crate::error::{Error, Result};
use crate::storage::{audience, campaigns, profiles, segments, timestamp};

/// Import-key entity name of consent rows.
const CONSENT: &str = "consent";

/// Members per page of an export.
const EXPORT_PAGE: usize = 1000;

impl MarketingApi {
    pub(super) async fn handle_import_consents(
        &self,
        _p: &Principal,
        stream: tonic::Streaming<pb::ImportConsentsRequest>,
    ) -> Result<pb::ImportConsentsResponse> {
        let summary = crm_platform::run_import!(stream, pb::ImportConsentsRequest, |run, rows| {
            self.import_consent_batch(run, rows)
        });
        Ok(pb::ImportConsentsResponse {
            summary: Some(summary),
        })
    }

    async fn import_consent_batch(&self, run: &mut ImportRun, rows: Vec<pb::ConsentImportRow>) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let wanted: Vec<String> = rows
            .iter()
            .map(|r| r.party_external_id.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let parties = profiles::by_external_ids(&mut tx, &run.source, &wanted).await?;
        let mut prepared = Vec::new();
        for row in rows {
            let customer = row.party_external_id.trim().to_string();
            let mut c = row.consent.unwrap_or_default();
            let mut v = Violations::new();
            match parties.get(&customer) {
                Some(id) => c.party_id = id.clone(),
                None if customer.is_empty() => v.add("party_external_id", "required"),
                None => v.add(
                    "party_external_id",
                    format!(
                        "no customer {customer:?} imported from {} (known once customers has announced it)",
                        run.source
                    ),
                ),
            }
            for (field, reason) in check_channel(&c).iter() {
                v.add(field.clone(), reason.clone());
            }
            // Consent is known by its customer and channel.
            let key = format!("{customer}|{}", c.channel);
            if !v.is_empty() {
                run.reject(row.row, &key, &v);
                continue;
            }
            prepared.push((row.row, key, c));
        }
        let keys_wanted: Vec<String> = prepared.iter().map(|(_, k, _)| k.clone()).collect();
        let stored = imports::lookup(&mut tx, CONSENT, &run.source, &keys_wanted).await?;
        let mut seen = HashMap::new();
        let mut keys = Vec::new();
        for (row, key, c) in prepared {
            let hash = imports::content_hash(
                format!("{}|{}|{}", c.party_id, c.opted_out, c.do_not_contact).as_bytes(),
            );
            let disposition = run.classify(&key, row, &hash, stored.get(&key), &mut seen);
            if let Disposition::Duplicate(first) = disposition {
                run.reject_one(
                    row,
                    &key,
                    "channel",
                    format!("this customer's channel appears again in this import (first in row {first})"),
                );
                continue;
            }
            run.count(&disposition);
            if run.validate_only {
                continue;
            }
            if !matches!(disposition, Disposition::Unchanged(_)) {
                self.store_consent(&mut tx, c).await?;
            }
            keys.push(NewImportKey {
                external_id: key.clone(),
                record_id: key,
                content_hash: hash,
                row,
            });
        }
        if !run.validate_only {
            imports::record(&mut tx, CONSENT, &run.source, &run.run_id, &keys).await?;
            self.store.commit(tx).await?;
        }
        Ok(())
    }

    pub(super) async fn handle_export_segment_members(
        &self,
        _p: Principal,
        req: pb::ExportSegmentMembersRequest,
    ) -> Result<ResponseStream<pb::ExportSegmentMembersResponse>> {
        let mut conn = self.store.conn().await?;
        let s = segments::get(&mut conn, &req.segment_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("segment {}", req.segment_id)))?;
        drop(conn);
        let cuts = self.cuts().await?;
        let api = self.clone();
        let pages = futures::stream::try_unfold(Some(String::new()), move |after| {
            let (api, s, cuts) = (api.clone(), s.clone(), cuts.clone());
            async move {
                let Some(after) = after else {
                    return Ok(None);
                };
                let mut conn = api.store.conn().await.map_err(Error::from)?;
                let cx = api.audience(&cuts);
                let page = audience::page(
                    &mut conn,
                    crate::storage::audience::Audience::of(&s),
                    &cx,
                    &after,
                    EXPORT_PAGE as i64,
                )
                .await
                .map_err(Error::from)?;
                if page.is_empty() {
                    return Ok(None);
                }
                let found = profiles::summaries(&mut conn, &page).await.map_err(Error::from)?;
                let next = (page.len() == EXPORT_PAGE).then(|| page[page.len() - 1].clone());
                let members = page
                    .iter()
                    .map(|id| {
                        let (display_name, region_code, external_id) =
                            found.get(id).cloned().unwrap_or_default();
                        pb::SegmentMember {
                            party_id: id.clone(),
                            external_id,
                            display_name,
                            region_code,
                        }
                    })
                    .collect();
                Ok::<_, tonic::Status>(Some((pb::ExportSegmentMembersResponse { members }, next)))
            }
        });
        Ok(Box::pin(pages))
    }

    pub(super) async fn handle_export_campaign_members(
        &self,
        _p: Principal,
        req: pb::ExportCampaignMembersRequest,
    ) -> Result<ResponseStream<pb::ExportCampaignMembersResponse>> {
        let mut conn = self.store.conn().await?;
        if campaigns::get(&mut conn, &req.campaign_id).await?.is_none() {
            return Err(Error::NotFound(format!("campaign {}", req.campaign_id)));
        }
        drop(conn);
        let db = self.store.db().clone();
        let campaign = req.campaign_id;
        Ok(export::keyset_pages(
            None,
            move |after: Option<(String, String)>| {
                let (db, campaign) = (db.clone(), campaign.clone());
                async move {
                    let mut conn = db.pool().acquire().await?;
                    let key = after.as_ref().map(|(c, p)| (c.as_str(), p.as_str()));
                    let page = campaigns::members_after(&mut conn, &campaign, key, export::PAGE).await?;
                    let next = export::next_key(
                        page.len(),
                        export::PAGE,
                        page.last().map(|m| Some((m.cell.clone(), m.party_id.clone()))),
                    );
                    let members: Vec<pb::CampaignMember> = page
                        .into_iter()
                        .map(|m| pb::CampaignMember {
                            party_id: m.party_id,
                            cell: m.cell,
                            test_group: m.test_group,
                            status: m.status,
                            contact_time: m.contacted_at.map(timestamp),
                        })
                        .collect();
                    Ok((
                        (!members.is_empty()).then_some(pb::ExportCampaignMembersResponse { members }),
                        next,
                    ))
                }
            },
        ))
    }
}
