"""Calling the suite: a channel to the gateway whose every call carries the caller's token."""

from typing import Callable, Optional, Union

import grpc

Token = Union[str, Callable[[], str]]


class _Bearer(grpc.AuthMetadataPlugin):
    """Sends the token (asked for again before each call when it is a function) as the bearer."""

    def __init__(self, token: Token) -> None:
        self._token = token

    def __call__(self, context, callback) -> None:
        token = self._token() if callable(self._token) else self._token
        callback((("authorization", f"Bearer {token}"),), None)


def channel(
    target: str,
    token: Token,
    *,
    insecure: bool = False,
    root_certificates: Optional[bytes] = None,
) -> grpc.Channel:
    """A channel to the gateway at ``target`` (``host:port``) sending ``token`` with every call.

    TLS by default, checked against the system's CAs or ``root_certificates`` (PEM).
    ``insecure=True`` speaks plaintext, for a suite on the same machine (``crm up``): gRPC
    sends no call credentials over an insecure channel, so the token goes in an interceptor.
    """
    if insecure:
        return grpc.intercept_channel(grpc.insecure_channel(target), _BearerInterceptor(token))
    credentials = grpc.composite_channel_credentials(
        grpc.ssl_channel_credentials(root_certificates=root_certificates),
        grpc.metadata_call_credentials(_Bearer(token)),
    )
    return grpc.secure_channel(target, credentials)


class _CallDetails(grpc.ClientCallDetails):
    def __init__(self, details, metadata):
        self.method = details.method
        self.timeout = details.timeout
        self.metadata = metadata
        self.credentials = details.credentials
        self.wait_for_ready = details.wait_for_ready
        self.compression = details.compression


class _BearerInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    def __init__(self, token: Token) -> None:
        self._token = token

    def _with_token(self, details):
        token = self._token() if callable(self._token) else self._token
        metadata = list(details.metadata or []) + [("authorization", f"Bearer {token}")]
        return _CallDetails(details, metadata)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._with_token(details), request)

    def intercept_stream_unary(self, continuation, details, requests):
        return continuation(self._with_token(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):
        return continuation(self._with_token(details), requests)
