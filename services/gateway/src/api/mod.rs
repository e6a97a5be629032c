//! The gateway's own RPCs: views composed from the domain services, each fetched with the
//! caller's token under the caller's deadline.

mod customer360;
mod screen_pop;

use std::time::{Duration, Instant};

use crm_auth::Principal;
use crm_proto::gateway::v1 as pb;
use crm_proto::gateway::v1::gateway_service_server::GatewayService;
use tonic::{Request, Response, Status};

use crate::domain::deadline;
use crate::domain::sections;
use crate::upstream::Upstreams;

/// Implements `crm.gateway.v1.GatewayService`.
#[derive(Debug, Clone)]
pub struct GatewayApi {
    upstreams: Upstreams,
    view_timeout: Duration,
}

impl GatewayApi {
    /// The API over `upstreams`; views never wait longer than `view_timeout`.
    pub fn new(upstreams: Upstreams, view_timeout: Duration) -> Self {
        Self {
            upstreams,
            view_timeout,
        }
    }
}

/// What every section call of one view shares: who is asking and until when.
#[derive(Debug, Clone)]
struct Call {
    principal: Principal,
    budget: Duration,
    started: Instant,
}

impl Call {
    fn new<T>(request: &Request<T>, limit: Duration) -> Result<Self, Status> {
        let principal = crm_auth::principal(request)?;
        let caller = request
            .metadata()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(deadline::parse_grpc_timeout);
        Ok(Self {
            principal,
            budget: deadline::budget(caller, limit),
            started: Instant::now(),
        })
    }

    /// A request to a domain service on the caller's behalf, carrying the time left.
    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = crm_platform::client::forwarded(&self.principal, message);
        request.set_timeout(self.remaining());
        request
    }

    fn remaining(&self) -> Duration {
        self.budget.saturating_sub(self.started.elapsed())
    }

    /// Runs one section's calls within the time left and reports how they went.
    async fn section<T, F>(&self, section: pb::Section, calls: F) -> (pb::SectionStatus, Option<T>)
    where
        F: std::future::Future<Output = Result<T, Status>>,
    {
        use tracing::Instrument as _;
        let started = Instant::now();
        let budget = self.remaining();
        // One span per section, so a trace shows the fan-out and which section took the time.
        let span = tracing::info_span!("gateway.section", otel.name = %format!("section {section:?}"));
        let calls = calls.instrument(span);
        let out_of_time = || Status::deadline_exceeded(format!("no answer within {} ms", budget.as_millis()));
        let outcome = match tokio::time::timeout(budget, calls).await {
            // The client side of a call gives up at the same deadline, reporting CANCELLED.
            Ok(Err(status)) if status.code() == tonic::Code::Cancelled && self.remaining().is_zero() => {
                Err(out_of_time())
            }
            Ok(outcome) => outcome,
            Err(_) => Err(out_of_time()),
        };
        if let Err(status) = &outcome {
            tracing::info!(section = ?section, code = ?status.code(), message = status.message(), "section degraded");
        }
        (
            sections::status(section, &outcome, started.elapsed()),
            outcome.ok(),
        )
    }
}

#[tonic::async_trait]
impl GatewayService for GatewayApi {
    async fn get_customer360(
        &self,
        request: Request<pb::GetCustomer360Request>,
    ) -> Result<Response<pb::GetCustomer360Response>, Status> {
        let call = Call::new(&request, self.view_timeout)?;
        self.customer360(&call, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn screen_pop(
        &self,
        request: Request<pb::ScreenPopRequest>,
    ) -> Result<Response<pb::ScreenPopResponse>, Status> {
        let call = Call::new(&request, self.view_timeout)?;
        self.screen_pop(&call, request.into_inner())
            .await
            .map(Response::new)
    }
}

/// How many recent orders to show: `asked` (0 for `default`), at most 100.
fn recent_orders_wanted(asked: i32, default: usize, v: &mut crm_platform::Violations) -> usize {
    v.check(!(0..=100).contains(&asked), "recent_orders", "0 to 100");
    if asked <= 0 { default } else { asked as usize }
}
