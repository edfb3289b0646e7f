//! Strata's ground floor: the vocabulary every other crate speaks.
//!
//! Identifiers and quantities are newtypes so that a node id is never passed where a job id is
//! expected and a milli-GPU is never mistaken for a whole GPU. Nothing here does IO, reads a clock
//! or knows about HTTP or databases; `serde` and `utoipa` derives are the only concessions to the
//! boundary, so that the wire crates can reuse these types instead of copying them.

pub mod error_code;
pub mod ids;
pub mod inventory;
pub mod job;
pub mod lifecycle;
pub mod quantity;
pub mod quota;
pub mod usage;

pub use error_code::ErrorCode;
pub use ids::{JobId, NodeId, TenantId};
pub use inventory::{Accelerator, AcceleratorUsage, Inventory, Vendor};
pub use job::{GpuRequest, JobSpec, JobState, ReplicaResources, TaskState};
pub use quantity::{CpuMillis, GpuMillis, MemoryMib};
pub use quota::Quota;
pub use usage::UsageRecord;
