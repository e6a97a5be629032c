//! What one port serves: the gRPC services added to its server, health, reflection, and the
//! packages a fallback answers (the gateway's forwarded domain APIs). Reflection advertises just
//! these, and a call to any other service is UNIMPLEMENTED, naming it, before authentication:
//! asking the customers port for a marketing RPC is a wrong address, not a missing permission.

use std::sync::Arc;
use std::task::{Context, Poll};

use prost::Message as _;
use tower::{Layer, Service};

/// Services every server answers besides its own.
const PLATFORM_SERVICES: [&str; 3] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// The services served on one port.
#[derive(Debug, Clone, Default)]
pub struct Served {
    /// Fully qualified names of the services added to the server.
    services: Vec<String>,
    /// Path prefixes a fallback answers, e.g. `/crm.customers.v1.`.
    prefixes: Vec<String>,
}

impl Served {
    /// Adds a service by its fully qualified name (`crm.customers.v1.CustomersService`).
    pub fn add_service(&mut self, name: &str) {
        self.services.push(name.to_string());
    }

    /// Adds a path prefix answered by a fallback (`/crm.customers.v1.`).
    pub fn add_prefix(&mut self, prefix: &str) {
        self.prefixes.push(prefix.to_string());
    }

    /// Whether a call to `path` (`/package.Service/Method`) is answered here.
    pub fn serves(&self, path: &str) -> bool {
        let service = service_of(path);
        self.services.iter().any(|s| s == service)
            || PLATFORM_SERVICES.contains(&service)
            || self.prefixes.iter().any(|p| path.starts_with(p.as_str()))
    }

    /// The service names reflection advertises: the services added, and those of the suite's
    /// descriptor set (`descriptor_set`, encoded) under a fallback's prefixes, plus health.
    pub fn advertised(&self, descriptor_set: &[u8]) -> Vec<String> {
        let mut names = self.services.clone();
        if !self.prefixes.is_empty() {
            let set = prost_types::FileDescriptorSet::decode(descriptor_set).unwrap_or_default();
            for file in &set.file {
                for service in &file.service {
                    let name = format!("{}.{}", file.package(), service.name());
                    let path = format!("/{name}/");
                    if self.prefixes.iter().any(|p| path.starts_with(p.as_str())) {
                        names.push(name);
                    }
                }
            }
        }
        names.push(PLATFORM_SERVICES[0].to_string());
        names.sort();
        names.dedup();
        names
    }

    /// The layer answering calls to other services UNIMPLEMENTED.
    pub fn layer(&self) -> ServedLayer {
        ServedLayer {
            served: Arc::new(self.clone()),
        }
    }
}

/// Whether `path` names a method of the suite's API or of the platform services (health,
/// reflection): the bounded set of names a metric or span may carry. Any other path is whatever
/// a caller sent, and would give each caller's guess a series of its own.
pub fn is_known_method(path: &str) -> bool {
    const PLATFORM_METHODS: [&str; 5] = [
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        "/grpc.health.v1.Health/List",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ];
    // The suite's methods are indexed once, for the call record and for this.
    crate::audit::methods::method(path).is_some() || PLATFORM_METHODS.contains(&path)
}

/// How much of the suite's API under one path prefix a policy declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyCoverage {
    /// RPCs under the prefix.
    pub rpcs: usize,
    /// Paths of those RPCs without an access rule (refused to everybody).
    pub undeclared: Vec<String>,
}

/// The RPCs of the suite's descriptor set whose paths start with `prefix` (a package such as
/// `/crm.sales.v1.`, or a service such as `/crm.customers.v1.CustomersService/`), and those of
/// them `policy` declares no access for.
pub fn policy_coverage(policy: &crm_auth::Policy, prefix: &str) -> PolicyCoverage {
    let set = prost_types::FileDescriptorSet::decode(crm_proto::FILE_DESCRIPTOR_SET).unwrap_or_default();
    let mut coverage = PolicyCoverage {
        rpcs: 0,
        undeclared: Vec::new(),
    };
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                let path = format!("/{}.{}/{}", file.package(), service.name(), method.name());
                if !path.starts_with(prefix) {
                    continue;
                }
                coverage.rpcs += 1;
                if policy.access(&path).is_none() {
                    coverage.undeclared.push(path);
                }
            }
        }
    }
    coverage
}

/// `crm.customers.v1.CustomersService` of `/crm.customers.v1.CustomersService/GetParty`.
fn service_of(path: &str) -> &str {
    let path = path.strip_prefix('/').unwrap_or(path);
    path.split_once('/').map_or(path, |(service, _)| service)
}

/// Tower layer of [`Served`].
#[derive(Debug, Clone)]
pub struct ServedLayer {
    served: Arc<Served>,
}

impl<S> Layer<S> for ServedLayer {
    type Service = ServedService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServedService {
            inner,
            served: self.served.clone(),
        }
    }
}

/// The service produced by [`ServedLayer`].
#[derive(Debug, Clone)]
pub struct ServedService<S> {
    inner: S,
    served: Arc<Served>,
}

impl<S, B, ResBody> Service<http::Request<B>> for ServedService<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::Either<S::Future, std::future::Ready<Result<Self::Response, Self::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        use futures::future::Either;
        let path = request.uri().path();
        if self.served.serves(path) {
            return Either::Left(self.inner.call(request));
        }
        let status = tonic::Status::unimplemented(format!("{} is not served on this port", service_of(path)));
        Either::Right(std::future::ready(Ok(status.into_http())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_methods_are_the_suites_and_the_platforms() {
        assert!(is_known_method("/crm.customers.v1.CustomersService/GetParty"));
        assert!(is_known_method("/grpc.health.v1.Health/Check"));
        assert!(!is_known_method("/crm.customers.v1.CustomersService/GetParty2"));
        assert!(!is_known_method("/crm.customers.v1.CustomersService/"));
        assert!(!is_known_method("/x/y"));
    }

    fn customers() -> Served {
        let mut served = Served::default();
        served.add_service("crm.customers.v1.CustomersService");
        served
    }

    #[test]
    fn a_port_serves_its_own_services_health_and_reflection() {
        let served = customers();
        assert!(served.serves("/crm.customers.v1.CustomersService/GetParty"));
        assert!(served.serves("/grpc.health.v1.Health/Check"));
        assert!(served.serves("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"));
        assert!(!served.serves("/crm.marketing.v1.MarketingService/GetRfmCells"));
        // A name that only begins like a served one is another service.
        assert!(!served.serves("/crm.customers.v1.CustomersServiceAdmin/GetParty"));
        assert!(!served.serves("/"));
    }

    #[test]
    fn a_fallback_serves_its_packages() {
        let mut served = Served::default();
        served.add_service("crm.gateway.v1.GatewayService");
        served.add_prefix("/crm.customers.v1.");
        assert!(served.serves("/crm.customers.v1.CustomersService/GetParty"));
        assert!(!served.serves("/crm.sales.v1.OrderService/GetOrder"));
        let names = served.advertised(crm_proto::FILE_DESCRIPTOR_SET);
        assert!(
            names.contains(&"crm.customers.v1.CustomersService".to_string()),
            "{names:?}"
        );
        assert!(
            names.contains(&"crm.gateway.v1.GatewayService".to_string()),
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n.starts_with("crm.sales.")), "{names:?}");
    }

    #[test]
    fn only_own_services_are_advertised_without_a_fallback() {
        let names = customers().advertised(crm_proto::FILE_DESCRIPTOR_SET);
        assert_eq!(
            names,
            ["crm.customers.v1.CustomersService", "grpc.health.v1.Health"]
        );
    }

    #[test]
    fn policy_coverage_names_the_rpcs_without_a_rule() {
        let service = "/crm.customers.v1.CustomersService/";
        let none = policy_coverage(&crm_auth::Policy::new(), service);
        assert!(none.rpcs > 10, "{none:?}");
        assert_eq!(none.undeclared.len(), none.rpcs);
        let one = crm_auth::Policy::new().rpc(
            "crm.customers.v1.CustomersService",
            "GetParty",
            crm_auth::Access::Authenticated,
        );
        let coverage = policy_coverage(&one, service);
        assert_eq!(coverage.undeclared.len(), coverage.rpcs - 1);
        assert!(!coverage.undeclared.iter().any(|p| p.ends_with("/GetParty")));
    }
}
