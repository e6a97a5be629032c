//! Bulk import of cases with their history and of knowledge-base articles, idempotent per
//! (source, external id). An imported case is history, not activity: it notifies nobody and
//! announces itself as `case.imported`; one still open is escalated from its import on.

use std::collections::{BTreeSet, HashMap};

use crm_auth::Principal;
use crm_events::outbox::{self, NewEvent};
use crm_platform::export;
use crm_platform::import::{Disposition, ImportRun, check_external_id};
use crm_platform::service::ResponseStream;
use crm_proto::servicedesk::v1::{self as pb, CaseStatus};
use crm_storage::Tx;
use crm_storage::imports::{self, NewImportKey};
use prost::Message as _;

use super::ServiceDeskApi;
use super::cases::{check_new_case, sla_targets};
use crate::domain::priority::{Preferential, priority};
use crate::error::{Error, Result, Violations};
use crate::storage::cases::{self, CaseFilter, CaseRecord};
use crate::storage::{customers, kb, org};
use crm_platform::time::micros;
use crm_proto::servicedesk::v1::events as ev;

/// Import-key entity names.
const CASE: &str = "case";
const ARTICLE: &str = "article";

/// The actor of imported timeline entries without an author.
const IMPORT_ACTOR: &str = "import";

/// A case row that passed validation.
struct PreparedCase {
    row: i64,
    external_id: String,
    record: CaseRecord,
    comments: Vec<pb::ImportedComment>,
    hash: String,
}

/// What a batch of case rows is checked against, read once for the batch.
struct BatchContext {
    /// Party ids by the external ids the rows name.
    parties: HashMap<String, String>,
    /// Queue ids by lower-case name.
    queues: HashMap<String, String>,
    /// Tiers of the live customers the rows name.
    tiers: HashMap<String, String>,
    /// How the customers the rows name that were erased or merged away ended, by party id.
    ended: HashMap<String, String>,
    /// (response, resolution) SLA minutes by (tier, priority), filled as rows need them.
    targets: HashMap<(String, i32), (i64, i64)>,
    /// The tiers that get preferential service.
    preferential: Preferential,
}

/// The timeline of a new imported case: opened, its comments, resolved.
fn history(p: &PreparedCase) -> Vec<cases::NumberedEntry> {
    let record = &p.record;
    let entry = |at: i64, actor: &str, kind: &'static str, text: &str, internal: bool| cases::NumberedEntry {
        case_id: record.case.id.clone(),
        seq: 0,
        at,
        actor_id: actor.to_string(),
        kind,
        text: text.to_string(),
        internal,
    };
    let mut entries = vec![entry(
        record.opened_at,
        IMPORT_ACTOR,
        "opened",
        &record.case.subject,
        false,
    )];
    for c in &p.comments {
        let author = if c.author.trim().is_empty() {
            IMPORT_ACTOR
        } else {
            c.author.trim()
        };
        let at = c.time.as_ref().map_or(record.opened_at, micros);
        entries.push(entry(at, author, "comment", c.text.trim(), c.internal));
    }
    if let Some(at) = record.resolved_at {
        entries.push(entry(
            at,
            IMPORT_ACTOR,
            "resolved",
            &record.case.resolution,
            false,
        ));
    }
    for (seq, e) in (1..).zip(entries.iter_mut()) {
        e.seq = seq;
    }
    entries
}

/// The `case.imported` event of a case as stored.
fn imported(record: &CaseRecord) -> NewEvent {
    let case = pb::CaseImported {
        case: Some(record.to_proto(Vec::new())),
    };
    NewEvent::of(ev::CASE_IMPORTED, &record.case.id, &case).about_person(&record.case.party_id)
}

/// Checks the history of a row: times in order and not in the future, what its status needs.
fn check_history(row: &pb::CaseImportRow, status: CaseStatus, now: i64, v: &mut Violations) {
    let opened = row.open_time.as_ref().map(micros);
    match opened {
        None => v.add("open_time", "required"),
        Some(at) => v.check(at > now, "open_time", "in the future"),
    }
    for (field, time) in [
        ("first_response_time", &row.first_response_time),
        ("resolve_time", &row.resolve_time),
    ] {
        if let Some(at) = time.as_ref().map(micros) {
            v.check(at > now, field, "in the future");
            v.check(opened.is_some_and(|o| at < o), field, "before the open time");
        }
    }
    let done = matches!(status, CaseStatus::Resolved | CaseStatus::Closed);
    v.check(
        done && row.resolve_time.is_none(),
        "resolve_time",
        "required for a resolved or closed case",
    );
    v.check(
        !done && row.resolve_time.is_some(),
        "resolve_time",
        "only a resolved or closed case has one",
    );
    v.check(
        !(0..=5).contains(&row.satisfaction),
        "satisfaction",
        "1 to 5, or 0 for none",
    );
    v.check(
        row.resolution.chars().count() > 20_000,
        "resolution",
        "at most 20000 characters",
    );
    v.check(row.comments.len() > 1_000, "comments", "at most 1000");
    for (i, c) in row.comments.iter().enumerate() {
        v.check(
            c.text.trim().is_empty() || c.text.chars().count() > 20_000,
            format!("comments[{i}].text"),
            "1 to 20000 characters",
        );
        match c.time.as_ref().map(micros) {
            None => v.add(format!("comments[{i}].time"), "required"),
            Some(at) => v.check(
                at > now || opened.is_some_and(|o| at < o),
                format!("comments[{i}].time"),
                "between the open time and now",
            ),
        }
    }
}

impl ServiceDeskApi {
    pub(super) async fn handle_import_cases(
        &self,
        _principal: &Principal,
        stream: tonic::Streaming<pb::ImportCasesRequest>,
    ) -> Result<pb::ImportCasesResponse> {
        let summary = crm_platform::run_import!(stream, pb::ImportCasesRequest, |run, rows| {
            self.import_case_batch(run, rows)
        });
        Ok(pb::ImportCasesResponse {
            summary: Some(summary),
        })
    }

    async fn import_case_batch(&self, run: &mut ImportRun, rows: Vec<pb::CaseImportRow>) -> Result<()> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let wanted: Vec<String> = rows
            .iter()
            .map(|r| r.party_external_id.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let parties = customers::by_external_ids(&mut tx, &run.source, &wanted).await?;
        let queues: HashMap<String, String> = org::queues(&mut tx, None, i64::MAX)
            .await?
            .into_iter()
            .map(|q| (q.name.to_lowercase(), q.id))
            .collect();
        // The tiers of every customer the batch names, and the SLA targets of each tier and
        // priority, read once for the batch.
        let named: Vec<String> = parties
            .values()
            .cloned()
            .chain(
                rows.iter()
                    .filter_map(|r| r.case.as_ref().map(|c| c.party_id.clone())),
            )
            .filter(|id| !id.is_empty())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        // Held until the batch commits, as OpenCase holds its customer, against an erasure.
        let named_refs: Vec<&str> = named.iter().map(String::as_str).collect();
        customers::lock(&mut tx, &named_refs).await?;
        let ended = customers::ended(&mut tx, &named_refs).await?;
        let mut context = BatchContext {
            parties,
            queues,
            ended,
            tiers: customers::tiers(&mut tx, &named).await?,
            targets: HashMap::new(),
            preferential: self.preferential(&mut tx).await?,
        };
        let mut prepared = Vec::new();
        for row in rows {
            let external_id = row.external_id.trim().to_string();
            match self.prepare_case(&mut tx, run, &mut context, row, now).await? {
                Ok(p) => prepared.push(p),
                Err((number, v)) => run.reject(number, &external_id, &v),
            }
        }
        let ids: Vec<String> = prepared.iter().map(|p| p.external_id.clone()).collect();
        let stored = imports::lookup(&mut tx, CASE, &run.source, &ids).await?;
        let mut seen = HashMap::new();
        let mut keys = Vec::new();
        let (mut created, mut timeline, mut announcements) = (Vec::new(), Vec::new(), Vec::new());
        for mut p in prepared {
            let disposition = run.classify(
                &p.external_id,
                p.row,
                &p.hash,
                stored.get(&p.external_id),
                &mut seen,
            );
            let record_id = match disposition {
                Disposition::Duplicate(first) => {
                    run.reject_one(
                        p.row,
                        &p.external_id,
                        "external_id",
                        format!("appears again in this import (first in row {first})"),
                    );
                    continue;
                }
                Disposition::Unchanged(ref id) => id.clone(),
                _ if run.validate_only => {
                    run.count(&disposition);
                    continue;
                }
                Disposition::Create => {
                    p.record.case.id = uuid::Uuid::now_v7().to_string();
                    timeline.extend(history(&p));
                    created.push(p.record.clone());
                    p.record.case.id.clone()
                }
                Disposition::Update(ref id) => {
                    let Some(current) = cases::get(&mut tx, id).await? else {
                        run.reject_one(
                            p.row,
                            &p.external_id,
                            "external_id",
                            format!("case {id} no longer exists"),
                        );
                        continue;
                    };
                    // The case's story so far stays; what it says now is taken from the row.
                    let mut next = p.record.clone();
                    next.case.id = id.clone();
                    next.version = current.version;
                    if !cases::update(&mut tx, &next).await? {
                        return Err(Error::Stale(format!("case {id}")));
                    }
                    announcements.push(imported(&next));
                    id.clone()
                }
            };
            run.count(&disposition);
            keys.push(NewImportKey {
                external_id: p.external_id.clone(),
                record_id,
                content_hash: p.hash.clone(),
                row: p.row,
            });
        }
        if !run.validate_only {
            // New cases and their histories are written many rows to a statement.
            cases::insert_many(&mut tx, &created).await?;
            cases::add_numbered_timeline(&mut tx, &timeline).await?;
            announcements.extend(created.iter().map(imported));
            outbox::enqueue_many(&mut tx, announcements).await?;
            imports::record(&mut tx, CASE, &run.source, &run.run_id, &keys).await?;
            // A tier change reads its customers' open cases by party. Planned without
            // statistics after a load, that read scanned all 500,000 cases for each event
            // (0.3 to 0.7 s), and the desk took minutes to work off a re-ranking.
            for table in ["cases", "case_timeline"] {
                crm_storage::statistics::analyze_if_grown(&mut tx, table).await?;
            }
            self.store.commit(tx).await?;
        }
        Ok(())
    }

    /// Validates one row and builds the case it becomes: priority from the customer's tier, SLA
    /// due times from when it was opened (or, still open, from now), the escalation clock
    /// starting now for an open case.
    async fn prepare_case(
        &self,
        tx: &mut Tx,
        run: &ImportRun,
        context: &mut BatchContext,
        row: pb::CaseImportRow,
        now: i64,
    ) -> Result<std::result::Result<PreparedCase, (i64, Violations)>> {
        let (parties, queues) = (&context.parties, &context.queues);
        let mut v = Violations::new();
        let external_id = row.external_id.trim().to_string();
        check_external_id(&mut v, "external_id", &external_id);
        let mut c = row.case.clone().unwrap_or_default();
        c.subject = c.subject.trim().to_string();
        c.category = c.category.trim().to_lowercase();
        let party = row.party_external_id.trim();
        if !party.is_empty() {
            match parties.get(party) {
                Some(id) => c.party_id = id.clone(),
                None => v.add(
                    "party_external_id",
                    format!(
                        "no customer {party:?} imported from {} (known once customers has announced it)",
                        run.source
                    ),
                ),
            }
        }
        if !row.queue_name.trim().is_empty() {
            match queues.get(&row.queue_name.trim().to_lowercase()) {
                Some(id) => c.queue_id = id.clone(),
                None => v.add(
                    "queue_name",
                    format!("no queue named {:?}", row.queue_name.trim()),
                ),
            }
        }
        let status = match CaseStatus::try_from(row.status) {
            Ok(CaseStatus::Unspecified) => CaseStatus::New,
            Ok(s) => s,
            Err(_) => {
                v.add(
                    "status",
                    "NEW, ASSIGNED, IN_PROGRESS, WAITING_ON_CUSTOMER, RESOLVED or CLOSED",
                );
                CaseStatus::New
            }
        };
        if let Some(ended) = context.ended.get(&c.party_id) {
            v.add("case.party_id", format!("party {} was {ended}", c.party_id));
        }
        let checked = check_new_case(tx, &mut c).await?;
        for (field, reason) in checked.iter() {
            // The party was named by external id: report the column the row used.
            let field = match field.as_str() {
                "case.party_id" if party.is_empty() => "party_external_id".to_string(),
                "case.party_id" => continue,
                "case.queue_id" if !row.queue_name.trim().is_empty() => continue,
                other => other.to_string(),
            };
            v.add(field, reason.clone());
        }
        check_history(&row, status, now, &mut v);
        if !v.is_empty() {
            return Ok(Err((row.row, v)));
        }
        let opened_at = row.open_time.as_ref().map_or(now, micros);
        let open = !matches!(status, CaseStatus::Resolved | CaseStatus::Closed);
        let tier = context.tiers.get(&c.party_id).cloned().unwrap_or_default();
        c.customer_tier = tier.clone();
        c.priority = priority(c.r#type, c.severity, context.preferential.includes(&tier));
        c.status = status as i32;
        c.resolution = row.resolution.trim().to_string();
        c.satisfaction = row.satisfaction;
        c.external_id = external_id.clone();
        // Due times as the desk would have set them; a case still open is due from its import.
        let clock_from = open.then_some(now);
        let minutes = match context.targets.get(&(tier.clone(), c.priority)) {
            Some(minutes) => *minutes,
            None => {
                let minutes = sla_targets(tx, &tier, c.priority, &context.preferential).await?;
                context.targets.insert((tier.clone(), c.priority), minutes);
                minutes
            }
        };
        let (response_due_at, resolution_due_at) = self.due_after(minutes, clock_from.unwrap_or(opened_at));
        let record = CaseRecord {
            opened_at,
            response_due_at,
            resolution_due_at,
            first_response_at: row.first_response_time.as_ref().map(micros),
            resolved_at: row.resolve_time.as_ref().map(micros),
            paused_at: (status == CaseStatus::WaitingOnCustomer).then_some(now),
            version: 1,
            clock_from,
            waited_minutes: 0,
            case: c,
        };
        // What the row says (neither its line in the file nor the time of import).
        let number = row.row;
        let mut canonical = row;
        canonical.row = 0;
        let hash = imports::content_hash(&canonical.encode_to_vec());
        Ok(Ok(PreparedCase {
            row: number,
            external_id,
            comments: canonical.comments,
            record,
            hash,
        }))
    }

    pub(super) async fn handle_export_cases(
        &self,
        principal: Principal,
        req: pb::ExportCasesRequest,
    ) -> Result<ResponseStream<pb::ExportCasesResponse>> {
        let db = self.store.db().clone();
        let filter = CaseFilter {
            status: req.status,
            queue_id: req.queue_id,
            ..Default::default()
        };
        Ok(export::keyset_pages(String::new(), move |after: String| {
            let (db, filter, principal) = (db.clone(), filter.clone(), principal.clone());
            async move {
                let mut conn = db.pool().acquire().await?;
                let page = cases::list_after(&mut conn, &filter, &after, export::PAGE).await?;
                let next = export::next_key(page.len(), export::PAGE, page.last().map(|c| c.case.id.clone()));
                let cases: Vec<pb::Case> = page
                    .iter()
                    .filter(|r| super::may_see(&principal, r))
                    .map(|r| r.to_proto(Vec::new()))
                    .collect();
                Ok((
                    (!cases.is_empty()).then_some(pb::ExportCasesResponse { cases }),
                    next,
                ))
            }
        }))
    }

    pub(super) async fn handle_import_articles(
        &self,
        _principal: &Principal,
        stream: tonic::Streaming<pb::ImportArticlesRequest>,
    ) -> Result<pb::ImportArticlesResponse> {
        let summary = crm_platform::run_import!(stream, pb::ImportArticlesRequest, |run, rows| {
            self.import_article_batch(run, rows)
        });
        Ok(pb::ImportArticlesResponse {
            summary: Some(summary),
        })
    }

    async fn import_article_batch(&self, run: &mut ImportRun, rows: Vec<pb::ArticleImportRow>) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let ids: Vec<String> = rows.iter().map(|r| r.external_id.trim().to_string()).collect();
        let stored = imports::lookup(&mut tx, ARTICLE, &run.source, &ids).await?;
        let mut seen = HashMap::new();
        let mut keys = Vec::new();
        for row in rows {
            let external_id = row.external_id.trim().to_string();
            let mut a = row.article.unwrap_or_default();
            a.id.clear();
            a.usage_count = 0;
            a.title = a.title.trim().to_string();
            a.language = a.language.trim().to_string();
            let mut v = super::kb::check_article(&a);
            check_external_id(&mut v, "external_id", &external_id);
            if !v.is_empty() {
                let mut out = Violations::new();
                for (field, reason) in v.iter() {
                    out.add(field.trim_start_matches("article."), reason.clone());
                }
                run.reject(row.row, &external_id, &out);
                continue;
            }
            let hash = imports::content_hash(&a.encode_to_vec());
            let disposition = run.classify(&external_id, row.row, &hash, stored.get(&external_id), &mut seen);
            match &disposition {
                Disposition::Duplicate(first) => {
                    run.reject_one(
                        row.row,
                        &external_id,
                        "external_id",
                        format!("appears again in this import (first in row {first})"),
                    );
                    continue;
                }
                Disposition::Update(id) => a.id = id.clone(),
                _ => {}
            }
            run.count(&disposition);
            if run.validate_only {
                continue;
            }
            if let Disposition::Unchanged(id) = &disposition {
                a.id = id.clone();
            } else {
                kb::upsert(&mut tx, &mut a).await?;
            }
            keys.push(NewImportKey {
                external_id,
                record_id: a.id.clone(),
                content_hash: hash,
                row: row.row,
            });
        }
        if !run.validate_only {
            imports::record(&mut tx, ARTICLE, &run.source, &run.run_id, &keys).await?;
            self.store.commit(tx).await?;
        }
        Ok(())
    }
}
