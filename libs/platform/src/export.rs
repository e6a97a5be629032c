//! Exports, the same way in every service: a server stream of pages read one after another by
//! keyset (each page a bounded query), with the caller's record rules applied per page.

use std::future::Future;

use futures::StreamExt as _;

use crate::errors::Error;
use crate::service::ResponseStream;

/// Rows read per page of an export.
pub const PAGE: i64 = 500;

/// Streams pages: `fetch(key)` reads the page after `key` and returns the message to send (None
/// when the record rules left nothing of it) and the key after it (None at the end).
pub fn keyset_pages<K, T, F, Fut>(start: K, fetch: F) -> ResponseStream<T>
where
    K: Send + 'static,
    T: Send + 'static,
    F: Fn(K) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(Option<T>, Option<K>), Error>> + Send + 'static,
{
    let pages = futures::stream::try_unfold(Some(start), move |key| {
        let next = key.map(&fetch);
        async move {
            match next {
                None => Ok(None),
                Some(page) => page.await.map(|(message, after)| Some((message, after))),
            }
        }
    })
    .filter_map(|page: Result<Option<T>, Error>| async move {
        match page {
            Ok(Some(message)) => Some(Ok(message)),
            Ok(None) => None,
            Err(err) => Some(Err(tonic::Status::from(err))),
        }
    });
    Box::pin(pages)
}

/// The key after a page of `limit` rows whose last key is `last` (None when the page was short:
/// the end).
pub fn next_key<K>(rows: usize, limit: i64, last: Option<K>) -> Option<K> {
    if rows as i64 == limit { last } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pages_follow_keys_and_skip_empty_ones() {
        let stream = keyset_pages(0u32, |after| async move {
            // Pages of ten numbers; the second has nothing visible.
            let page: Vec<u32> = (after..after + 10).filter(|n| !(10..20).contains(n)).collect();
            let next = (after < 20).then_some(after + 10);
            Ok(((!page.is_empty()).then_some(page), next))
        });
        let pages: Vec<Vec<u32>> = stream.map(|p| p.unwrap()).collect().await;
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[1][0], 20);
    }
}
