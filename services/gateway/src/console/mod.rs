//! The web console, served by the gateway on its own port: the files built from `console/`
//! (embedded in the binary when they were built before it; absent otherwise), the settings the
//! console signs users in with (`/console-config.json`), imports uploaded from it (`import`),
//! and, when the suite runs on the public development secret (`crm up`), a development sign-in
//! that issues a token for a chosen role and user (`/console/dev-token`).

pub mod import;

use std::sync::Arc;
use std::time::Duration;

use crm_auth::{AuthConfig, Claims, Role};
use crm_platform::site::{Asset, Files, Site};

use crate::upstream::Upstreams;

/// The console's built files.
#[derive(rust_embed::Embed)]
#[folder = "../../console/dist/"]
#[allow_missing = true]
struct Built;

/// How the console signs users in.
#[derive(Debug, Clone, Default)]
pub struct ConsoleConfig {
    /// The identity provider's issuer URL (OpenID Connect, authorization code with PKCE);
    /// empty: none.
    pub oidc_issuer: String,
    /// The console's client id there.
    pub oidc_client_id: String,
    /// The scopes it asks for.
    pub oidc_scope: String,
}

/// Whether the console's files are in this binary.
pub fn built() -> bool {
    Built::get("index.html").is_some()
}

/// How long a development sign-in lasts.
const DEV_SESSION: Duration = Duration::from_secs(12 * 3600);

/// The console as a site. Without its files (not built before the binary) pages are not
/// found, and uploads are still taken.
pub fn site(config: &ConsoleConfig, auth: &AuthConfig, upstreams: &Upstreams) -> Site {
    let files: Files = Arc::new(|path: &str| {
        Built::get(path).map(|file| Asset {
            mime: file.metadata.mimetype().to_string().into(),
            body: file.data,
        })
    });
    let issuer_origin = origin(&config.oidc_issuer);
    let settings = settings_json(config, auth.is_development());
    let columns = import::columns_json();
    let mut site = Site::new(files, issuer_origin.as_slice())
        .upload(import::PATH, import::handler(upstreams.clone()))
        .route(
            import::COLUMNS_PATH,
            Arc::new(move |_: &str| {
                (
                    http::StatusCode::OK,
                    "application/json",
                    columns.clone().into_bytes(),
                )
            }),
        )
        .route(
            "/console-config.json",
            Arc::new(move |_: &str| {
                (
                    http::StatusCode::OK,
                    "application/json",
                    settings.clone().into_bytes(),
                )
            }),
        );
    if auth.is_development() {
        let signer = auth.signer();
        site = site.route(
            "/console/dev-token",
            Arc::new(move |query: &str| match dev_claims(query) {
                Ok(claims) => match signer.sign(&claims) {
                    Ok(token) => (
                        http::StatusCode::OK,
                        "application/json",
                        serde_json::json!({ "token": token }).to_string().into_bytes(),
                    ),
                    Err(_) => (
                        http::StatusCode::INTERNAL_SERVER_ERROR,
                        "text/plain",
                        b"signing failed".to_vec(),
                    ),
                },
                Err(message) => (http::StatusCode::BAD_REQUEST, "text/plain", message.into_bytes()),
            }),
        );
    }
    site
}

/// `scheme://host[:port]` of `url`, the origin the console may call besides its own.
fn origin(url: &str) -> Vec<String> {
    url.parse::<http::Uri>()
        .ok()
        .and_then(|uri| Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?)))
        .into_iter()
        .collect()
}

/// What the console reads before anything else: how to sign in, and the roles to choose from
/// in a development sign-in.
fn settings_json(config: &ConsoleConfig, development: bool) -> String {
    let oidc = (!config.oidc_issuer.is_empty()).then(|| {
        serde_json::json!({
            "issuer": config.oidc_issuer,
            "clientId": config.oidc_client_id,
            "scope": config.oidc_scope,
        })
    });
    let roles: Vec<&str> = Role::ALL
        .iter()
        .filter(|r| !matches!(r, Role::Service))
        .map(|r| r.as_str())
        .collect();
    serde_json::json!({ "oidc": oidc, "devSignIn": development, "roles": roles }).to_string()
}

/// The claims a development sign-in asks for: `role`, `user`, and for partner users and
/// customers `partner_id` or `customer_id` (URL-encoded query parameters).
fn dev_claims(query: &str) -> Result<Claims, String> {
    let mut role = None;
    let mut user = String::new();
    let (mut partner, mut customer, mut team) = (None, None, None);
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "role" => {
                role = Some(
                    value
                        .parse::<Role>()
                        .map_err(|_| format!("unknown role {value:?}"))?,
                )
            }
            "user" => user = value.trim().to_string(),
            "partner_id" if !value.is_empty() => partner = Some(value.into_owned()),
            "customer_id" if !value.is_empty() => customer = Some(value.into_owned()),
            "team" if !value.is_empty() => team = Some(value.into_owned()),
            _ => {}
        }
    }
    let role = role.ok_or("role is required")?;
    if role == Role::Service {
        return Err("the service role is not for people".into());
    }
    if user.is_empty() {
        return Err("user is required".into());
    }
    if role == Role::PartnerUser && partner.is_none() {
        return Err("a partner user needs partner_id".into());
    }
    if role == Role::Customer && customer.is_none() {
        return Err("a customer needs customer_id".into());
    }
    let mut claims = Claims::new(user, &[role], DEV_SESSION);
    claims.team = team.or(Some("dev".into()));
    claims.partner_id = partner;
    claims.customer_id = customer;
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_development_sign_in_names_a_role_and_a_user() {
        let claims = dev_claims("role=service_agent&user=alice").unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.roles.as_slice()),
            ("alice", ["service_agent".to_string()].as_slice())
        );
        let partner = dev_claims("role=partner_user&user=p%20one&partner_id=pa-1").unwrap();
        assert_eq!(
            (partner.sub.as_str(), partner.partner_id.as_deref()),
            ("p one", Some("pa-1"))
        );
        for (query, error) in [
            ("user=alice", "role is required"),
            ("role=wizard&user=alice", "unknown role"),
            ("role=admin", "user is required"),
            ("role=service&user=x", "not for people"),
            ("role=partner_user&user=x", "partner_id"),
            ("role=customer&user=x", "customer_id"),
        ] {
            assert!(dev_claims(query).unwrap_err().contains(error), "{query}");
        }
    }

    #[test]
    fn settings_name_the_identity_provider_and_the_roles() {
        let config = ConsoleConfig {
            oidc_issuer: "https://id.example.com/realms/crm".into(),
            oidc_client_id: "crm-console".into(),
            oidc_scope: "openid profile".into(),
        };
        let settings: serde_json::Value = serde_json::from_str(&settings_json(&config, false)).unwrap();
        assert_eq!(settings["oidc"]["issuer"], "https://id.example.com/realms/crm");
        assert_eq!(settings["devSignIn"], false);
        assert!(
            settings["roles"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "sales_rep")
        );
        assert!(
            !settings["roles"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "service")
        );
        assert_eq!(origin(&config.oidc_issuer), ["https://id.example.com"]);
        let none: serde_json::Value =
            serde_json::from_str(&settings_json(&ConsoleConfig::default(), true)).unwrap();
        assert!(none["oidc"].is_null());
    }
}
