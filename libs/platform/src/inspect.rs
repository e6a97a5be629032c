//! A response future that runs an action on the response when it is ready, for the server's
//! layers that look at how a call ended (the call record, the failed-authentication limit, the
//! concurrency limit's permit): no allocation per call, unlike a boxed `async` block.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// What a layer does with a call's response (or, dropped without one, when the call failed).
pub trait OnResponse<B> {
    /// Runs once, on the response.
    fn on_response(self, response: &mut http::Response<B>);
}

/// Nothing to do.
impl<B> OnResponse<B> for () {
    fn on_response(self, _: &mut http::Response<B>) {}
}

pin_project_lite::pin_project! {
    /// `inner`, with `action` run on its response.
    pub struct Inspected<F, A> {
        #[pin]
        inner: F,
        action: Option<A>,
    }
}

impl<F, A> Inspected<F, A> {
    /// `inner` with `action` (none: the response passes untouched).
    pub fn new(inner: F, action: Option<A>) -> Self {
        Self { inner, action }
    }
}

impl<F, A, B, E> Future for Inspected<F, A>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    A: OnResponse<B>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut output = ready!(this.inner.poll(cx));
        if let (Ok(response), Some(action)) = (&mut output, this.action.take()) {
            action.on_response(response);
        }
        Poll::Ready(output)
    }
}
