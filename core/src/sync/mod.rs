//! Sync: the wire protocol shared with the relay (`docs/protocol.md`).
pub mod admin;
pub mod client;
pub mod engine;
pub mod enrollment;
pub mod identity;
pub mod pairing;
mod photo_download;
mod photo_upload;
pub(crate) mod rotation;
pub mod wire;
pub mod workspace_keys;
