//! Per-tenant quotas, charged as jobs are placed within one cycle so that two jobs of the same
//! tenant in the same cycle cannot together overshoot a limit that each alone respects.

use crate::model::{PendingJob, RunningJob, TenantLimits};
use std::collections::BTreeMap;
use strata_domain::TenantId;

/// What a whole job (all replicas) adds to its tenant's usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Demand {
    pub gpu: u64,
    pub cpu: u64,
    pub mem: u64,
}

impl Demand {
    pub fn of(job: &PendingJob) -> Self {
        let r = u64::from(job.replicas);
        let res = &job.resources;
        Demand {
            gpu: r.saturating_mul(u64::from(res.gpu_milli.total_milli().0)),
            cpu: r.saturating_mul(res.cpu_milli.0),
            mem: r.saturating_mul(res.memory_mib.0),
        }
    }

    pub fn held(job: &RunningJob) -> Self {
        let mut d = Demand { gpu: 0, cpu: 0, mem: 0 };
        for r in &job.replicas {
            d.gpu += r.gpu_milli();
            d.cpu += r.cpu_milli;
            d.mem += r.memory_mib;
        }
        d
    }
}

struct Usage<'a> {
    limits: &'a TenantLimits,
    gpu: u64,
    cpu: u64,
    mem: u64,
}

pub(crate) struct Quotas<'a> {
    by_tenant: BTreeMap<TenantId, Usage<'a>>,
}

impl<'a> Quotas<'a> {
    pub fn new(tenants: &'a [TenantLimits]) -> Self {
        let by_tenant = tenants
            .iter()
            .map(|t| {
                let usage = Usage { limits: t, gpu: t.used_gpu_milli, cpu: t.used_cpu_milli, mem: t.used_memory_mib };
                (t.tenant, usage)
            })
            .collect();
        Quotas { by_tenant }
    }

    /// `Err` carries the reason, naming the first limit (GPU, then CPU, then memory) it would break.
    pub fn check(&self, tenant: TenantId, demand: &Demand) -> Result<(), String> {
        let Some(u) = self.by_tenant.get(&tenant) else {
            return Ok(());
        };
        let l = u.limits;
        let dims = [
            (l.max_gpu_milli, u.gpu, demand.gpu, "milli-GPU"),
            (l.max_cpu_milli, u.cpu, demand.cpu, "milli-CPU"),
            (l.max_memory_mib, u.mem, demand.mem, "MiB memory"),
        ];
        for (limit, used, need, unit) in dims {
            // A job that adds nothing to a resource is not held back by it, even when the tenant
            // is already over that limit (say, after its quota was lowered).
            let Some(limit) = limit.filter(|_| need > 0) else {
                continue;
            };
            let would = used.saturating_add(need);
            if would > limit {
                let name = l.display_name();
                return Err(format!("tenant {name} quota: would use {would} of {limit} {unit} ({used} in use)"));
            }
        }
        Ok(())
    }

    /// What a running job gives back when it is stopped.
    pub fn release(&mut self, tenant: TenantId, demand: &Demand) {
        if let Some(u) = self.by_tenant.get_mut(&tenant) {
            u.gpu = u.gpu.saturating_sub(demand.gpu);
            u.cpu = u.cpu.saturating_sub(demand.cpu);
            u.mem = u.mem.saturating_sub(demand.mem);
        }
    }

    pub fn charge(&mut self, tenant: TenantId, demand: &Demand) {
        if let Some(u) = self.by_tenant.get_mut(&tenant) {
            u.gpu = u.gpu.saturating_add(demand.gpu);
            u.cpu = u.cpu.saturating_add(demand.cpu);
            u.mem = u.mem.saturating_add(demand.mem);
        }
    }
}
