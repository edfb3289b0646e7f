//! Resource quantities with their unit in the name.
//!
//! GPUs are counted in milli-GPUs (1000 = one whole device) so that fractional sharing and
//! whole-device gangs use one arithmetic. CPU is in milli-cores, as Kubernetes does.

use serde::{Deserialize, Serialize};
use std::ops::{Add, AddAssign, Sub, SubAssign};

macro_rules! quantity {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize,
            Deserialize, utoipa::ToSchema,
        )]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl Add for $name {
            type Output = Self;
            fn add(self, rhs: Self) -> Self {
                Self(self.0 + rhs.0)
            }
        }
        impl AddAssign for $name {
            fn add_assign(&mut self, rhs: Self) {
                self.0 += rhs.0;
            }
        }
        impl Sub for $name {
            type Output = Self;
            /// Saturates at zero: a quantity is never negative.
            fn sub(self, rhs: Self) -> Self {
                Self(self.0.saturating_sub(rhs.0))
            }
        }
        impl SubAssign for $name {
            fn sub_assign(&mut self, rhs: Self) {
                self.0 = self.0.saturating_sub(rhs.0);
            }
        }
    };
}

quantity!(
    /// Milli-GPUs: 1000 is one whole accelerator.
    GpuMillis(u32)
);
quantity!(
    /// Milli-cores: 1000 is one CPU core.
    CpuMillis(u64)
);
quantity!(
    /// Memory in mebibytes.
    MemoryMib(u64)
);

impl GpuMillis {
    pub const WHOLE: GpuMillis = GpuMillis(1000);
}
