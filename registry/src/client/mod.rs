//! The registry client shared by the builder (push) and the loader (pull), and the loader's
//! local cache. Blocking I/O over a small std HTTP/1.1 client; HTTPS (rustls) only with the
//! `tls` feature.
//!
//! Phases of a pull: [`Client::get_manifest`] resolves the reference (one request, digest
//! checked), [`pull`] opens the artifact for one architecture from the [`Cache`], fetching
//! what is missing with [`Client::fetch_manifest`] / [`Client::fetch_blob`] (a descriptor over
//! the [`size_cap`](crate::artifact::size_cap) of its media type refused before any request;
//! size and digest checked before anything is stored), then the signature referrers
//! ([`Client::referrers`], falling back to the referrers tag). A push runs the other way:
//! [`Client::push_blob`], [`Client::put_manifest`], [`Client::push_referrer`], driven by
//! [`push`].
//!
//! Transport: plain HTTP only to loopback registries or with [`ClientOptions::insecure`],
//! otherwise HTTPS with the system CA bundle and `--ca-file`s; redirects and token endpoints
//! obey the same rule; every request ends by [`ClientOptions::request_timeout`].
//! Authentication: the distribution token flow, Basic, or a bearer token, with credentials
//! from [`credentials::lookup`], sent only to the registry's own origin (never to a host it
//! redirects to).

mod auth;
mod blobs;
mod cache;
pub mod credentials;
mod error;
mod http;
mod manifests;
mod progress;
mod pull;
mod push;
mod referrers;
// HTTPS, or a stand-in that refuses it when the `tls` feature is off.
#[cfg_attr(not(feature = "tls"), path = "notls.rs")]
mod tls;
mod transport;

pub use blobs::BlobPush;
pub use cache::{cache_name, Cache, ANNOTATION_CACHE_ROOT};
pub use credentials::{Credentials, Secret, Secrets, Withheld};
pub use error::{ClientError, RegistryError, RegistryErrors};
pub use http::HttpError;
#[doc(hidden)]
pub use http::{read_response, ReadResponse};
pub use manifests::{FetchedManifest, PutManifest};
pub use progress::{NoProgress, Progress, ProgressFn};
pub use pull::{fetch_signatures, open_cached, pull, Pulled};
pub use push::{push, upload, PackageDir, PushSource, Pushed, SignError, Signer};
pub use referrers::referrer_descriptor;
pub use transport::{Client, ClientOptions, Stats};
