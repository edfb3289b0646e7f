//! FGD's "inflation": turning one pod list into an arrival sequence whose GPU requests add up to
//! a target share of the cluster (130 % in the paper), for one seed.
//!
//! As in the authors' simulator: the whole pod list, shuffled; then, if it asks for less than the
//! target, pods drawn uniformly with replacement from the list are appended (named
//! `<pod>-tuned-<i>`) until the next draw would overshoot; if it asks for more, randomly chosen
//! pods are dropped until it does not. The appended draws are independent, so their order is as
//! random as a shuffle. One quirk is kept for fidelity: the overshoot test adds the drawn pod's
//! milli-GPU *per device*, while the running total adds all its devices.

use super::trace::OpenbPod;
use strata_sched::Rng;

/// One pod arriving: an index into the pod list and the name it arrives under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    pub pod: usize,
    pub name: String,
}

/// The arrival sequence for `seed`, asking for about `ratio` × `capacity_milli` milli-GPU.
pub fn inflate(pods: &[OpenbPod], capacity_milli: u64, ratio: f64, seed: u64) -> Vec<Arrival> {
    let mut rng = Rng::new(seed);
    let mut order: Vec<usize> = (0..pods.len()).collect();
    rng.shuffle(&mut order);
    let target = ratio * capacity_milli as f64;
    let mut total: u64 = pods.iter().map(OpenbPod::total_gpu_milli).sum();
    while total as f64 > target && !order.is_empty() {
        let i = rng.index(order.len());
        total = total.saturating_sub(pods[order.remove(i)].total_gpu_milli());
    }
    let mut arrivals: Vec<Arrival> =
        order.into_iter().map(|i| Arrival { pod: i, name: pods[i].name.clone() }).collect();
    if (total as f64) < target && !pods.is_empty() {
        for tuned in 0.. {
            let i = rng.index(pods.len());
            if (total + pods[i].per_gpu_milli()) as f64 > target {
                break;
            }
            total += pods[i].total_gpu_milli();
            arrivals.push(Arrival { pod: i, name: format!("{}-tuned-{tuned}", pods[i].name) });
        }
    }
    arrivals
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_domain::{GpuMillis, GpuRequest};

    fn pod(name: &str, gpu: GpuRequest) -> OpenbPod {
        OpenbPod { name: name.into(), cpu_milli: 1000, memory_mib: 1, gpu, gpu_spec: vec![] }
    }

    fn demand(pods: &[OpenbPod], arrivals: &[Arrival]) -> u64 {
        arrivals.iter().map(|a| pods[a.pod].total_gpu_milli()).sum()
    }

    #[test]
    fn tunes_up_to_the_target_and_is_deterministic() {
        let pods = vec![
            pod("a", GpuRequest::Whole(1)),
            pod("b", GpuRequest::Fraction(GpuMillis(500))),
            pod("c", GpuRequest::None),
        ];
        let arrivals = inflate(&pods, 10_000, 1.3, 42);
        assert_eq!(arrivals, inflate(&pods, 10_000, 1.3, 42));
        assert_ne!(arrivals, inflate(&pods, 10_000, 1.3, 43));
        // Every original once, in some order, then the draws.
        let mut first: Vec<usize> = arrivals[..3].iter().map(|a| a.pod).collect();
        first.sort_unstable();
        assert_eq!(first, vec![0, 1, 2]);
        assert!(arrivals[3..].iter().all(|a| a.name.contains("-tuned-")));
        let d = demand(&pods, &arrivals);
        assert!((12_000..=13_000).contains(&d), "{d}");
    }

    #[test]
    fn tunes_down_by_dropping_random_pods() {
        let pods: Vec<OpenbPod> = (0..20).map(|i| pod(&format!("p{i}"), GpuRequest::Whole(1))).collect();
        let arrivals = inflate(&pods, 10_000, 1.3, 7);
        assert_eq!(demand(&pods, &arrivals), 13_000);
        assert!(arrivals.iter().all(|a| !a.name.contains("tuned")));
    }
}
