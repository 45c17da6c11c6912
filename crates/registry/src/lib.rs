//! A client for OCI Distribution registries (the Docker Registry HTTP API v2), just big enough
//! to read one image without pulling it into an engine: image references normalised as the
//! docker CLI does, credentials found where the docker CLI finds them, the bearer-token dance,
//! manifests and indexes, and blob streams verified against their digests while they arrive.
//!
//! It knows nothing about layers' contents or platforms' meaning: `importgate-image` decides
//! which manifest to take and what to make of the bytes.

mod auth;
mod client;
mod error;
mod manifest;
mod reference;

pub use auth::{Credential, CredentialSource, Secret, docker_config_dir};
pub use client::{BlobStream, Client, ClientOptions, Fetched};
pub use error::RegistryError;
pub use manifest::{
    Descriptor, Document, MANIFEST_ACCEPT, Platform, is_index_type, is_manifest_type,
};
pub use reference::Reference;
