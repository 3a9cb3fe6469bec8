//! Registry references: pulled through the local cache by the registry client.
