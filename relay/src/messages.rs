//! Response bodies that `fieldvault::sync::wire` does not define yet. They
//! belong in wire.rs (proposed in the relay's report); kept here until then.
use serde::{Deserialize, Serialize};

/// `201` of `POST /v1/workspaces`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceCreated {
    pub workspace_id: String,
}

/// `201` of `POST /v1/workspaces/{ws}/codes`: an empty object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeIssued {}

/// `201` of `POST /v1/workspaces/{ws}/enroll`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolled {
    pub workspace_id: String,
    pub device_id: String,
}

/// `200` of `POST /v1/workspaces/{ws}/epochs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochStarted {
    pub current_epoch: u32,
}

/// `200` of `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub ok: bool,
}
