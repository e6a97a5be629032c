//! A web site served on a gRPC server's own port: the browser console's files, the few plain
//! HTTP answers it needs (its settings, a development sign-in), and uploads of files (which
//! gRPC-Web cannot stream from a browser).
//!
//! gRPC and gRPC-Web calls are POSTs; a GET or HEAD is a browser loading a page. Those are
//! answered here, before the gRPC layers: a page loads without a token, and every call it then
//! makes carries the signed-in user's token through authentication as any other client's does.
//! A POST is the site's only at a path given to [`Site::upload`]; its handler passes the
//! caller's token on to the services it calls, which decide what the caller may do.

use std::borrow::Cow;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::future::{BoxFuture, Either, FutureExt as _, Ready, ready};

/// One file of the site.
#[derive(Debug, Clone)]
pub struct Asset {
    /// Its bytes.
    pub body: Cow<'static, [u8]>,
    /// Its media type.
    pub mime: Cow<'static, str>,
}

/// Finds the file at a path (without the leading `/`).
pub type Files = Arc<dyn Fn(&str) -> Option<Asset> + Send + Sync>;

/// Answers a GET of one path from its query string: (status, media type, body).
pub type Handler = Arc<dyn Fn(&str) -> (http::StatusCode, &'static str, Vec<u8>) + Send + Sync>;

/// Answers a POST of one path: the request, its body streamed as it arrives, and the answer.
pub type Upload = Arc<
    dyn Fn(http::Request<tonic::body::Body>) -> BoxFuture<'static, http::Response<tonic::body::Body>>
        + Send
        + Sync,
>;

/// A single-page application: its files, and handlers for a few paths of their own. A path
/// that is neither (a page of the application, such as `/screen-pop?phone=...`) gets
/// `index.html`, whose script shows that page.
#[derive(Clone)]
pub struct Site {
    files: Files,
    handlers: Vec<(String, Handler)>,
    uploads: Vec<(String, Upload)>,
    content_security_policy: String,
}

impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Site")
            .field(
                "handlers",
                &self.handlers.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .field(
                "uploads",
                &self.uploads.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Where files with content-hashed names live: they never change, so browsers keep them.
const HASHED: &str = "assets/";

impl Site {
    /// The application in `files`, allowed to call its own origin and `connect_to` (an
    /// identity provider's origin, say).
    pub fn new(files: Files, connect_to: &[String]) -> Self {
        let connect = std::iter::once("'self'".to_string())
            .chain(connect_to.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            files,
            handlers: Vec::new(),
            uploads: Vec::new(),
            // Styles set by the UI framework's components are inline; scripts never are.
            content_security_policy: format!(
                "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                 img-src 'self' data:; connect-src {connect}; frame-ancestors 'none'; base-uri 'none'; \
                 form-action 'self'"
            ),
        }
    }

    /// Answers GETs of `path` with `handler`.
    pub fn route(mut self, path: &str, handler: Handler) -> Self {
        self.handlers.push((path.to_string(), handler));
        self
    }

    /// Answers POSTs of `path` with `handler`.
    pub fn upload(mut self, path: &str, handler: Upload) -> Self {
        self.uploads.push((path.to_string(), handler));
        self
    }

    /// Whether this site answers `request`: GETs and HEADs.
    fn answers<B>(request: &http::Request<B>) -> bool {
        matches!(*request.method(), http::Method::GET | http::Method::HEAD)
    }

    /// The handler of a POST to `request`'s path, if it is an upload's.
    fn upload_for<B>(&self, request: &http::Request<B>) -> Option<&Upload> {
        (*request.method() == http::Method::POST)
            .then(|| self.uploads.iter().find(|(p, _)| p == request.uri().path()))
            .flatten()
            .map(|(_, handler)| handler)
    }

    /// The headers every answer of the site carries.
    fn secure(&self, headers: &mut http::HeaderMap) {
        let mut set = |name: &'static str, value: &str| {
            if let Ok(value) = http::HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        };
        set("content-security-policy", &self.content_security_policy);
        set("x-content-type-options", "nosniff");
        set("referrer-policy", "no-referrer");
    }

    /// The answer to a GET or HEAD of `uri`.
    pub fn respond(&self, method: &http::Method, uri: &http::Uri) -> http::Response<tonic::body::Body> {
        let path = uri.path().trim_start_matches('/');
        let query = uri.query().unwrap_or("");
        let (status, mime, body, cache): (_, Cow<'static, str>, Cow<'static, [u8]>, _) =
            if let Some((_, handler)) = self
                .handlers
                .iter()
                .find(|(p, _)| p.trim_start_matches('/') == path)
            {
                let (status, mime, body) = handler(query);
                (status, mime.into(), body.into(), "no-store")
            } else if let Some(asset) = (!path.is_empty()).then(|| (self.files)(path)).flatten() {
                let cache = if path.starts_with(HASHED) {
                    "public, max-age=31536000, immutable"
                } else {
                    "no-cache"
                };
                (http::StatusCode::OK, asset.mime, asset.body, cache)
            } else if path.starts_with(HASHED) {
                // A missing script or style is an error, not the page.
                (
                    http::StatusCode::NOT_FOUND,
                    "text/plain".into(),
                    b"not found".as_slice().into(),
                    "no-store",
                )
            } else {
                match (self.files)("index.html") {
                    Some(index) => (http::StatusCode::OK, index.mime, index.body, "no-cache"),
                    None => (
                        http::StatusCode::NOT_FOUND,
                        "text/plain".into(),
                        b"not found".as_slice().into(),
                        "no-store",
                    ),
                }
            };
        let length = body.len();
        let body = if *method == http::Method::HEAD {
            tonic::body::Body::empty()
        } else {
            let bytes = match body {
                Cow::Borrowed(b) => Bytes::from_static(b),
                Cow::Owned(b) => Bytes::from(b),
            };
            tonic::body::Body::new(http_body_util::Full::new(bytes))
        };
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        let headers = response.headers_mut();
        let mut set = |name: &'static str, value: &str| {
            if let Ok(value) = http::HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        };
        set("content-type", &mime);
        set("content-length", &length.to_string());
        set("cache-control", cache);
        self.secure(headers);
        response
    }
}

/// Tower layer answering a [`Site`]'s requests before the service it wraps.
#[derive(Debug, Clone)]
pub struct SiteLayer {
    site: Option<Site>,
}

impl SiteLayer {
    /// Serves `site`, or passes everything on when there is none.
    pub fn new(site: Option<Site>) -> Self {
        Self { site }
    }
}

impl<S> tower::Layer<S> for SiteLayer {
    type Service = SiteService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SiteService {
            inner,
            site: self.site.clone(),
        }
    }
}

/// The service produced by [`SiteLayer`].
#[derive(Debug, Clone)]
pub struct SiteService<S> {
    inner: S,
    site: Option<Site>,
}

impl<S, B> tower::Service<http::Request<B>> for SiteService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Error: Send + 'static,
    B: tonic::codegen::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<
        Either<Ready<Result<S::Response, S::Error>>, BoxFuture<'static, Result<S::Response, S::Error>>>,
        S::Future,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let Some(site) = &self.site else {
            return Either::Right(self.inner.call(request));
        };
        if Site::answers(&request) {
            return Either::Left(Either::Left(ready(Ok(
                site.respond(request.method(), request.uri())
            ))));
        }
        let Some(handler) = site.upload_for(&request).cloned() else {
            return Either::Right(self.inner.call(request));
        };
        let site = site.clone();
        let answer = handler(request.map(tonic::body::Body::new));
        Either::Left(Either::Right(
            async move {
                let mut response = answer.await;
                site.secure(response.headers_mut());
                response
                    .headers_mut()
                    .insert("cache-control", http::HeaderValue::from_static("no-store"));
                Ok(response)
            }
            .boxed(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        let files: Files = Arc::new(|path: &str| {
            let body: &'static [u8] = match path {
                "index.html" => b"<html>console</html>",
                "assets/app-1234.js" => b"console.log(1)",
                _ => return None,
            };
            Some(Asset {
                body: body.into(),
                mime: if path.ends_with(".js") {
                    "text/javascript"
                } else {
                    "text/html"
                }
                .into(),
            })
        });
        Site::new(files, &["https://id.example.com".into()]).route(
            "/console-config.json",
            Arc::new(|query: &str| {
                (
                    http::StatusCode::OK,
                    "application/json",
                    format!("{{\"q\":\"{query}\"}}").into_bytes(),
                )
            }),
        )
    }

    fn get(path: &str) -> http::Response<tonic::body::Body> {
        site().respond(&http::Method::GET, &path.parse().unwrap())
    }

    fn header<'a>(response: &'a http::Response<tonic::body::Body>, name: &str) -> &'a str {
        response.headers()[name].to_str().unwrap()
    }

    #[test]
    fn files_pages_and_handlers() {
        let script = get("/assets/app-1234.js");
        assert_eq!(script.status(), 200);
        assert_eq!(header(&script, "content-type"), "text/javascript");
        assert!(header(&script, "cache-control").contains("immutable"));

        // A page of the application is its index, never kept stale.
        for page in ["/", "/screen-pop?phone=%2B886912345678", "/customers/p-1"] {
            let index = get(page);
            assert_eq!(
                (index.status().as_u16(), header(&index, "content-type")),
                (200, "text/html")
            );
            assert_eq!(header(&index, "cache-control"), "no-cache");
            assert!(
                header(&index, "content-security-policy")
                    .contains("connect-src 'self' https://id.example.com")
            );
            assert_eq!(header(&index, "x-content-type-options"), "nosniff");
        }
        assert_eq!(get("/assets/gone.js").status(), 404);

        let config = get("/console-config.json?x=1");
        assert_eq!(
            (config.status().as_u16(), header(&config, "content-type")),
            (200, "application/json")
        );
        assert_eq!(header(&config, "cache-control"), "no-store");
        assert_eq!(header(&config, "content-length"), "11");
    }

    #[test]
    fn only_gets_and_heads_are_the_site_s() {
        let request =
            |method: http::Method| http::Request::builder().method(method).uri("/").body(()).unwrap();
        assert!(Site::answers(&request(http::Method::GET)));
        assert!(Site::answers(&request(http::Method::HEAD)));
        assert!(!Site::answers(&request(http::Method::POST)));
        assert!(!Site::answers(&request(http::Method::OPTIONS)));
        let head = site().respond(&http::Method::HEAD, &"/".parse().unwrap());
        assert_eq!(header(&head, "content-length"), "20");
    }
}
