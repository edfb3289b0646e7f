//! The wire: request and response bodies of `/api/v1`, and the agent protocol.
//!
//! Purely declarative. The server and the client both depend on this crate and never on each
//! other, so a change to the protocol is a change here, visible in one diff. Raw requests are
//! turned into validated domain types in one step (`SubmitJob::into_spec`), so code past the
//! boundary never sees an unchecked value.

pub mod agent;
pub mod deployments;
pub mod error;
pub mod fleet;
pub mod jobs;
pub mod keys;
pub mod models;
pub mod nodes;
pub mod tenants;
pub mod usage;

pub use error::{ApiError, ErrorBody};
