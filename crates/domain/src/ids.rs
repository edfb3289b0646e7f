//! Identifiers. Each is an integer assigned by the store; the newtype keeps them apart.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
            utoipa::ToSchema,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

id_type!(
    /// A node: one machine running `strata agent`.
    NodeId
);
id_type!(
    /// A job: a gang of one or more replicas that run one command.
    JobId
);
id_type!(
    /// A tenant: a team or customer that owns jobs, keys and quota.
    TenantId
);
