//! Registry references and cache names: through the registry client's cache (one manifest
//! request for a cached tag, none offline).

use coreship_registry::client::{self, Cache, Client, ClientError, NoProgress, Pulled};
use coreship_registry::oci::Descriptor;
use coreship_registry::{Arch, Reference};

use super::FetchOpts;

fn cache() -> Result<Cache, ClientError> {
    Cache::open_default()
}

/// Pulls `reference` (or reads it from the cache with `opts.offline`).
pub(super) fn pull(
    reference: &Reference,
    arch: Arch,
    opts: &FetchOpts,
) -> Result<Pulled, ClientError> {
    let cache = cache()?;
    let client = Client::new(opts.client.clone());
    client::pull(&client, &cache, reference, arch, opts.offline, &NoProgress)
}

/// The signatures of `root` the registry of `reference` has now (cached for next time).
pub(super) fn signatures(
    reference: &Reference,
    root: &Descriptor,
    opts: &FetchOpts,
) -> Result<Vec<Vec<u8>>, ClientError> {
    let cache = cache()?;
    let client = Client::new(opts.client.clone());
    client::fetch_signatures(&client, &cache, reference, root, &NoProgress)
}

/// Opens a name of the cache (e.g. one an import brought in).
pub(super) fn cached(name: &str, arch: Arch) -> Result<Pulled, ClientError> {
    client::open_cached(&cache()?, name, arch)
}
