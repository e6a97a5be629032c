//! Wiring a generated gRPC service trait to plain handler methods.

/// Re-exported for [`grpc_handlers!`].
#[doc(hidden)]
pub use tonic as __tonic;

/// Implements a generated service trait by forwarding each RPC to a handler method
/// `async fn handler(&self, principal: &Principal, request: Req) -> Result<Resp, E>` where
/// `E: Into<tonic::Status>`. The principal comes from the auth layer; handlers see plain messages
/// and return plain results, and every RPC gets the same error mapping.
///
/// ```ignore
/// crm_platform::grpc_handlers! {
///     impl CustomersService for CustomersApi {
///         create_party(CreatePartyRequest) -> CreatePartyResponse => handle_create_party;
///     }
/// }
/// ```
#[macro_export]
macro_rules! grpc_handlers {
    (impl $service:ident for $ty:ident { $($method:ident($req:ty) -> $resp:ty => $handler:ident;)* }) => {
        #[$crate::service::__tonic::async_trait]
        impl $service for $ty {
            $(
                async fn $method(
                    &self,
                    request: $crate::service::__tonic::Request<$req>,
                ) -> ::std::result::Result<$crate::service::__tonic::Response<$resp>, $crate::service::__tonic::Status> {
                    let principal = ::crm_auth::principal(&request)?;
                    self.$handler(&principal, request.into_inner())
                        .await
                        .map($crate::service::__tonic::Response::new)
                        .map_err(::std::convert::Into::into)
                }
            )*
        }
    };
}
