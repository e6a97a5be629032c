//! Wiring a generated gRPC service trait to plain handler methods.

/// Re-exported for [`grpc_handlers!`].
#[doc(hidden)]
pub use tonic as __tonic;

/// The stream a server-streaming handler returns.
pub type ResponseStream<T> =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<T, tonic::Status>> + Send + 'static>>;

/// Implements a generated service trait by forwarding each RPC to a handler method
/// `async fn handler(&self, principal: &Principal, request: Req) -> Result<Resp, E>` where
/// `E: Into<tonic::Status>`. The principal comes from the auth layer; handlers see plain messages
/// and return plain results, and every RPC gets the same error mapping.
///
/// Streaming RPCs are listed after the unary ones in a `streaming` block:
/// - `client method(Req) -> Resp => handler;` calls
///   `handler(&self, principal: &Principal, requests: tonic::Streaming<Req>) -> Result<Resp, E>`;
/// - `server method(Req) -> Resp as StreamType => handler;` calls
///   `handler(&self, principal: Principal, request: Req) -> Result<ResponseStream<Resp>, E>`.
///
/// ```ignore
/// crm_platform::grpc_handlers! {
///     impl CustomersService for CustomersApi {
///         create_party(CreatePartyRequest) -> CreatePartyResponse => handle_create_party;
///     }
///     streaming {
///         client import_parties(ImportPartiesRequest) -> ImportPartiesResponse => handle_import_parties;
///         server export_parties(ExportPartiesRequest) -> ExportPartiesResponse as ExportPartiesStream => handle_export_parties;
///     }
/// }
/// ```
#[macro_export]
macro_rules! grpc_handlers {
    (impl $service:ident for $ty:ident { $($method:ident($req:ty) -> $resp:ty => $handler:ident;)* }
     $(streaming {
        $(client $cmethod:ident($creq:ty) -> $cresp:ty => $chandler:ident;)*
        $(server $smethod:ident($sreq:ty) -> $sresp:ty as $stype:ident => $shandler:ident;)*
     })?
    ) => {
        #[$crate::service::__tonic::async_trait]
        impl $service for $ty {
            $(
                async fn $method(
                    &self,
                    request: $crate::service::__tonic::Request<$req>,
                ) -> ::std::result::Result<$crate::service::__tonic::Response<$resp>, $crate::service::__tonic::Status> {
                    let principal = ::crm_auth::principal(&request)?;
                    let audit = request.extensions().get::<$crate::audit::AuditSlot>().cloned();
                    if let Some(audit) = &audit {
                        audit.note_request(&principal, request.get_ref());
                    }
                    let response = self.$handler(&principal, request.into_inner()).await;
                    if let (Some(audit), Ok(response)) = (&audit, &response) {
                        audit.note_response(response);
                    }
                    response
                        .map($crate::service::__tonic::Response::new)
                        .map_err(::std::convert::Into::into)
                }
            )*
            $(
                $(
                    async fn $cmethod(
                        &self,
                        request: $crate::service::__tonic::Request<$crate::service::__tonic::Streaming<$creq>>,
                    ) -> ::std::result::Result<$crate::service::__tonic::Response<$cresp>, $crate::service::__tonic::Status> {
                        let principal = ::crm_auth::principal(&request)?;
                        if let Some(audit) = request.extensions().get::<$crate::audit::AuditSlot>() {
                            audit.note_caller(&principal);
                        }
                        self.$chandler(&principal, request.into_inner())
                            .await
                            .map($crate::service::__tonic::Response::new)
                            .map_err(::std::convert::Into::into)
                    }
                )*
                $(
                    type $stype = $crate::service::ResponseStream<$sresp>;

                    async fn $smethod(
                        &self,
                        request: $crate::service::__tonic::Request<$sreq>,
                    ) -> ::std::result::Result<$crate::service::__tonic::Response<Self::$stype>, $crate::service::__tonic::Status> {
                        let principal = ::crm_auth::principal(&request)?;
                        if let Some(audit) = request.extensions().get::<$crate::audit::AuditSlot>() {
                            audit.note_request(&principal, request.get_ref());
                        }
                        self.$shandler(principal, request.into_inner())
                            .await
                            .map($crate::service::__tonic::Response::new)
                            .map_err(::std::convert::Into::into)
                    }
                )*
            )?
        }
    };
}
