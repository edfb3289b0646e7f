//! Checks a job against the fleet before it is accepted: a chip model nobody has, or a gang the
//! whole fleet could not hold even when empty, is refused at once instead of waiting forever.
//! Pure: takes the registered nodes, returns the refusal.

use strata_api::ApiError;
use strata_domain::{ErrorCode, GpuRequest, Inventory, JobSpec};

/// How many replicas of `spec` an empty node could hold.
fn replicas_per_node(inv: &Inventory, spec: &JobSpec) -> u64 {
    let r = &spec.resources;
    let by_cpu = u64::from(inv.cpu_cores) * 1000 / r.cpu_milli.0.max(1);
    let by_memory = inv.memory_mib / r.memory_mib.0.max(1);
    let allowed = |model: &str| r.allows_model(model);
    let by_gpu = match r.gpu_milli {
        GpuRequest::None => u64::MAX,
        GpuRequest::Fraction(m) => {
            inv.accelerators.iter().filter(|a| allowed(&a.model)).count() as u64 * (1000 / u64::from(m.0.max(1)))
        }
        // Whole devices of one model per replica: count per model, best model wins.
        GpuRequest::Whole(n) => {
            let mut models: Vec<&str> =
                inv.accelerators.iter().map(|a| a.model.as_str()).filter(|m| allowed(m)).collect();
            models.sort_unstable();
            models.dedup();
            models
                .iter()
                .map(|m| inv.accelerators.iter().filter(|a| a.model == *m).count() as u64 / u64::from(n.max(1)))
                .max()
                .unwrap_or(0)
        }
    };
    by_cpu.min(by_memory).min(by_gpu)
}

/// Refuses a job that no state of this fleet could ever run. An empty fleet refuses nothing:
/// the job waits for nodes to join, with that as its reason.
pub fn check(spec: &JobSpec, fleet: &[&Inventory]) -> Result<(), ApiError> {
    if fleet.is_empty() {
        return Ok(());
    }
    let mut known: Vec<&str> = fleet.iter().flat_map(|i| i.accelerators.iter().map(|a| a.model.as_str())).collect();
    known.sort_unstable();
    known.dedup();
    let r = &spec.resources;
    for (field, models) in [("gpu_models", &r.gpu_models), ("preferred_gpu_models", &r.preferred_gpu_models)] {
        if let Some(unknown) = models.iter().find(|m| !known.contains(&m.as_str())) {
            let have = if known.is_empty() { "none (no node has accelerators)".to_string() } else { known.join(", ") };
            return Err(ApiError::field(
                ErrorCode::UnknownGpuModel,
                field,
                format!("no node has a {unknown:?} accelerator; models in the fleet: {have}"),
            ));
        }
    }
    let capacity: u64 = fleet.iter().map(|i| replicas_per_node(i, spec)).fold(0, u64::saturating_add);
    if capacity < u64::from(spec.replicas) {
        let largest_cpu = fleet.iter().map(|i| i.cpu_cores).max().unwrap_or(0);
        let largest_mem = fleet.iter().map(|i| i.memory_mib).max().unwrap_or(0);
        let largest_gpus =
            fleet.iter().map(|i| i.accelerators.iter().filter(|a| r.allows_model(&a.model)).count()).max().unwrap_or(0);
        let message = if capacity == 0 {
            format!(
                "one replica needs {} milli-CPU, {} MiB and {} milli-GPU, more than any node offers (largest: {} cores, {} MiB, {} allowed GPUs); ask for less",
                r.cpu_milli.0, r.memory_mib.0, r.gpu_milli.total_milli().0, largest_cpu, largest_mem, largest_gpus
            )
        } else {
            format!(
                "the gang needs {} replicas but the whole fleet, empty, holds only {capacity} of this size; use fewer replicas or smaller ones",
                spec.replicas
            )
        };
        return Err(ApiError::field(ErrorCode::Unsatisfiable, "replicas", message));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_domain::{Accelerator, CpuMillis, MemoryMib, ReplicaResources, Vendor};

    fn node(gpus: u32, model: &str) -> Inventory {
        Inventory {
            hostname: "n".into(),
            cpu_cores: 16,
            memory_mib: 65536,
            accelerators: (0..gpus)
                .map(|index| Accelerator {
                    index,
                    vendor: Vendor::Nvidia,
                    model: model.into(),
                    memory_mib: 81920,
                    pci_bus_id: None,
                    numa_node: None,
                    emulated: true,
                })
                .collect(),
            labels: Default::default(),
        }
    }

    fn spec(replicas: u32, gpu: GpuRequest, models: &[&str]) -> JobSpec {
        JobSpec {
            name: "j".into(),
            command: vec!["true".into()],
            env: Default::default(),
            workdir: None,
            replicas,
            resources: ReplicaResources {
                cpu_milli: CpuMillis(1000),
                memory_mib: MemoryMib(1024),
                gpu_milli: gpu,
                gpu_models: models.iter().map(|m| m.to_string()).collect(),
                preferred_gpu_models: vec![],
                node_labels: Default::default(),
                max_replicas_per_node: None,
                spread_group: None,
            },
            priority: 0,
            max_retries: 0,
            checkpoint_dir: None,
            preemptible: true,
            runtime_estimate_s: None,
        }
    }

    #[test]
    fn unknown_model_is_refused_with_the_fleet_models() {
        let a = node(8, "H100-80GB");
        let err = check(&spec(1, GpuRequest::Whole(1), &["B200"]), &[&a]).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownGpuModel);
        assert!(err.message.contains("models in the fleet: H100-80GB"), "{}", err.message);
    }

    #[test]
    fn gang_larger_than_fleet_is_refused_but_one_that_fits_is_not() {
        let a = node(8, "H100-80GB");
        let b = node(4, "A100-40GB");
        assert!(check(&spec(3, GpuRequest::Whole(4), &[]), &[&a, &b]).is_ok());
        let err = check(&spec(4, GpuRequest::Whole(4), &[]), &[&a, &b]).unwrap_err();
        assert_eq!(err.code, ErrorCode::Unsatisfiable);
        assert!(err.message.contains("holds only 3"), "{}", err.message);
        let err = check(&spec(1, GpuRequest::Whole(16), &[]), &[&a, &b]).unwrap_err();
        assert!(err.message.contains("more than any node offers"), "{}", err.message);
    }

    #[test]
    fn empty_fleet_refuses_nothing() {
        assert!(check(&spec(100, GpuRequest::Whole(8), &["X"]), &[]).is_ok());
    }
}
