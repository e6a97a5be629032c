//! The installed base: products customers own, registered by staff or by the customers
//! themselves, with their warranty; cases refer to them.

use chrono::{DateTime, NaiveDate};
use crm_auth::Principal;
use crm_platform::paging::{decode_parts, finish_page, key_of, page_size};
use crm_proto::servicedesk::v1::{self as pb, AssetStatus};
use crm_storage::is_unique_violation;

use super::{ServiceDeskApi, is_customer};
use crate::error::{Error, Result, Violations, etag_version};
use crate::storage::assets::{self, AssetRecord};
use crate::storage::customers;

/// Longest product name, and longest serial number, order and product id.
const MAX_NAME: usize = 200;
const MAX_ID: usize = 100;

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// Trims an asset's fields and checks them against `today` (paths prefixed `asset.`).
fn check(a: &mut pb::Asset, today: NaiveDate, v: &mut Violations) {
    for field in [
        &mut a.product_id,
        &mut a.product_name,
        &mut a.serial_number,
        &mut a.purchase_date,
        &mut a.warranty_end_date,
        &mut a.order_id,
    ] {
        *field = field.trim().to_string();
    }
    v.check(a.product_name.is_empty(), "asset.product_name", "required");
    v.check(
        a.product_name.chars().count() > MAX_NAME,
        "asset.product_name",
        "at most 200 characters",
    );
    for (value, field) in [
        (&a.product_id, "asset.product_id"),
        (&a.serial_number, "asset.serial_number"),
        (&a.order_id, "asset.order_id"),
    ] {
        v.check(value.chars().count() > MAX_ID, field, "at most 100 characters");
    }
    let purchased = date(&a.purchase_date);
    v.check(
        purchased.is_none_or(|d| d > today),
        "asset.purchase_date",
        "required: a date (YYYY-MM-DD), not in the future",
    );
    if !a.warranty_end_date.is_empty() {
        let ends = date(&a.warranty_end_date);
        v.check(
            ends.is_none() || purchased.is_some_and(|p| ends.is_some_and(|e| e < p)),
            "asset.warranty_end_date",
            "a date (YYYY-MM-DD) not before the purchase date, or empty for none",
        );
    }
}

impl ServiceDeskApi {
    fn today(&self) -> NaiveDate {
        DateTime::from_timestamp_micros(self.now())
            .unwrap_or_default()
            .date_naive()
    }

    /// The API form of an asset, with whether its warranty runs today.
    fn asset_view(&self, record: AssetRecord) -> pb::Asset {
        let today = self.today().format("%Y-%m-%d").to_string();
        pb::Asset {
            under_warranty: !record.asset.warranty_end_date.is_empty()
                && record.asset.warranty_end_date >= today,
            etag: record.version.to_string(),
            ..record.asset
        }
    }

    /// The asset `id` as `p` may see it: NOT_FOUND, or PERMISSION_DENIED for another
    /// customer's.
    async fn visible_asset(
        &self,
        conn: &mut crm_storage::Conn,
        p: &Principal,
        id: &str,
    ) -> Result<AssetRecord> {
        match assets::get(conn, id).await? {
            None => Err(Error::NotFound(format!("asset {id}"))),
            Some(a) if is_customer(p) && p.customer_id.as_deref() != Some(a.asset.party_id.as_str()) => {
                Err(Error::PermissionDenied(format!("asset {id} is not yours")))
            }
            Some(a) => Ok(a),
        }
    }

    pub(super) async fn handle_register_asset(
        &self,
        p: &Principal,
        req: pb::RegisterAssetRequest,
    ) -> Result<pb::RegisterAssetResponse> {
        let mut asset = req.asset.unwrap_or_default();
        asset.party_id = asset.party_id.trim().to_string();
        if is_customer(p) {
            let own = p.customer_id.clone().unwrap_or_default();
            if !asset.party_id.is_empty() && asset.party_id != own {
                return Err(Error::PermissionDenied(
                    "a customer registers their own products only".into(),
                ));
            }
            asset.party_id = own;
        }
        let mut v = Violations::new();
        check(&mut asset, self.today(), &mut v);
        v.check(asset.party_id.is_empty(), "asset.party_id", "required: the owner");
        let mut tx = self.store.begin().await?;
        if !asset.party_id.is_empty() && customers::get(&mut tx, &asset.party_id).await?.is_none() {
            v.add("asset.party_id", "no such customer");
        }
        v.finish()?;
        asset.id = uuid::Uuid::now_v7().to_string();
        asset.status = AssetStatus::Active as i32;
        asset.registered_by = p.user_id.clone();
        match assets::insert(&mut tx, &asset, self.now()).await {
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::AlreadyExists(format!(
                    "{} with serial number {}",
                    asset.product_name, asset.serial_number
                )));
            }
            other => other?,
        }
        let stored = assets::get(&mut tx, &asset.id).await?.unwrap_or_default();
        self.store.commit(tx).await?;
        Ok(pb::RegisterAssetResponse {
            asset: Some(self.asset_view(stored)),
        })
    }

    pub(super) async fn handle_update_asset(
        &self,
        p: &Principal,
        req: pb::UpdateAssetRequest,
    ) -> Result<pb::UpdateAssetResponse> {
        let mut asset = req.asset.unwrap_or_default();
        let mut v = Violations::new();
        let version = etag_version(&asset.etag, "asset.etag", true, &mut v);
        let status = AssetStatus::try_from(asset.status);
        v.check(status.is_err(), "asset.status", "active or retired");
        let mut tx = self.store.begin().await?;
        let record = self.visible_asset(&mut tx, p, asset.id.trim()).await?;
        // The owner and the product stay; the rest is replaced.
        asset.id = record.asset.id.clone();
        asset.party_id = record.asset.party_id.clone();
        asset.product_id = record.asset.product_id.clone();
        asset.product_name = record.asset.product_name.clone();
        if asset.status == 0 {
            asset.status = record.asset.status;
        }
        check(&mut asset, self.today(), &mut v);
        v.finish()?;
        if Some(record.version) != version {
            return Err(Error::Stale(format!(
                "asset {} has changed since you read it",
                asset.id
            )));
        }
        match assets::update(&mut tx, &asset, record.version).await {
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::AlreadyExists(format!(
                    "{} with serial number {}",
                    asset.product_name, asset.serial_number
                )));
            }
            Ok(false) => {
                return Err(Error::Stale(format!(
                    "asset {} has changed since you read it",
                    asset.id
                )));
            }
            other => other?,
        };
        let stored = assets::get(&mut tx, &asset.id).await?.unwrap_or_default();
        self.store.commit(tx).await?;
        Ok(pb::UpdateAssetResponse {
            asset: Some(self.asset_view(stored)),
        })
    }

    pub(super) async fn handle_get_asset(
        &self,
        p: &Principal,
        req: pb::GetAssetRequest,
    ) -> Result<pb::GetAssetResponse> {
        let mut conn = self.store.conn().await?;
        let record = self.visible_asset(&mut conn, p, req.id.trim()).await?;
        Ok(pb::GetAssetResponse {
            asset: Some(self.asset_view(record)),
        })
    }

    pub(super) async fn handle_list_assets(
        &self,
        p: &Principal,
        req: pb::ListAssetsRequest,
    ) -> Result<pb::ListAssetsResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 500, &mut v);
        let before = decode_parts(&req.page_token, 2, &mut v);
        let mut party_id = req.party_id.trim().to_string();
        if is_customer(p) {
            let own = p.customer_id.clone().unwrap_or_default();
            if !party_id.is_empty() && party_id != own {
                return Err(Error::PermissionDenied(
                    "a customer lists their own products only".into(),
                ));
            }
            party_id = own;
        }
        v.check(party_id.is_empty(), "party_id", "required: whose installed base");
        v.finish()?;
        let today = self.today().format("%Y-%m-%d").to_string();
        let warranty_on = req.under_warranty_only.then_some(today.as_str());
        let mut conn = self.store.conn().await?;
        let rows = assets::of_party(&mut conn, &party_id, warranty_on, before, size + 1).await?;
        let (rows, next_page_token) =
            finish_page(rows, size, |a| key_of(&[&a.asset.purchase_date, &a.asset.id]));
        Ok(pb::ListAssetsResponse {
            assets: rows.into_iter().map(|a| self.asset_view(a)).collect(),
            next_page_token,
        })
    }
}
