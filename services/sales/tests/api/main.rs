//! The sales service through its gRPC API, on SQLite and PostgreSQL, with the customers service
//! and a nats-server running beside it.

mod catalog;
mod erasure;
mod helpers;
mod import;
mod import_pipeline;
mod leads;
mod opportunities;
mod orders;
mod org_reports;
mod paging;
mod scope;
mod tasks;
mod upstream;
mod value_flow;

/// A token for a rep or manager in a team.
pub fn helpers_token(user: &str, role: crm_auth::Role, team: &str) -> String {
    let mut claims = crm_auth::Claims::new(user, &[role], std::time::Duration::from_secs(3600));
    claims.team = Some(team.into());
    crm_testkit::token_with(claims)
}
