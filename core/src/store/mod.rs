//! SQLite storage. Everything this layer reads or writes is already ciphertext
//! or a keyed hash: it never sees a plaintext value, so neither do SQLite's
//! journal, WAL or temporary files.
pub mod connection;
pub mod rows;
pub mod schema;

pub use connection::{checkpoint_truncate, enable_wal, open_connection};
