//! From per-pod observations to FGD's discrete curves: one value per percent of arrived GPU
//! demand, 0..=130, computed the way the authors' analysis scripts do so rows compare directly.
//!
//! For each pod attempted (placed or not): arrived demand, allocated GPU, fragmentation and free
//! GPU after it. A pod's bucket is its arrived demand in percent of capacity, rounded half to
//! even (Python's `round`). A bucket's value is the mean over its pods (or over the neighbouring
//! buckets ±1 when it has none); allocation is rounded to two decimals per pod and again after
//! averaging, fragmentation amount after averaging, and the fragmentation ratio not at all.

/// The state of the cluster right after one pod was attempted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub arrived_milli: u64,
    pub allocated_milli: u64,
    pub frag_milli: f64,
    pub free_milli: u64,
}

/// The three FGD curves of one run; `None` where no pod fell near a bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Curves {
    pub allo: Vec<Option<f64>>,
    pub frag: Vec<Option<f64>>,
    pub frag_ratio: Vec<Option<f64>>,
}

pub const BUCKETS: usize = 131;

fn round2(x: f64) -> f64 {
    (x * 100.0).round_ties_even() / 100.0
}

pub fn discretize(observations: &[Observation], total_gpus: u64) -> Curves {
    let gpus = total_gpus.max(1) as f64;
    let points: Vec<(i64, f64, f64, f64)> = observations
        .iter()
        .map(|o| {
            let bucket = (o.arrived_milli as f64 / gpus / 10.0).round_ties_even() as i64;
            let allo = round2(o.allocated_milli as f64 / gpus / 10.0);
            let ratio = if o.free_milli == 0 { 0.0 } else { 100.0 * o.frag_milli / o.free_milli as f64 };
            (bucket, allo, o.frag_milli, ratio)
        })
        .collect();
    let mut curves = Curves { allo: vec![None; BUCKETS], frag: vec![None; BUCKETS], frag_ratio: vec![None; BUCKETS] };
    for b in 0..BUCKETS as i64 {
        let mut hits: Vec<&(i64, f64, f64, f64)> = points.iter().filter(|p| p.0 == b).collect();
        if hits.is_empty() {
            hits = points.iter().filter(|p| (b - 1..=b + 1).contains(&p.0)).collect();
        }
        if hits.is_empty() {
            continue;
        }
        let n = hits.len() as f64;
        let mean = |f: fn(&(i64, f64, f64, f64)) -> f64| hits.iter().map(|p| f(p)).sum::<f64>() / n;
        let i = b as usize;
        curves.allo[i] = Some(round2(mean(|p| p.1)));
        curves.frag[i] = Some(round2(100.0 * mean(|p| p.2) / 1000.0 / gpus));
        curves.frag_ratio[i] = Some(mean(|p| p.3));
    }
    curves
}

/// A float as Python prints it (`12.0`, `0.25`, `13.919183673469389`), so our CSVs read like the
/// authors'.
pub fn py_float(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e16 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(arrived: u64, allocated: u64, frag: f64, free: u64) -> Observation {
        Observation { arrived_milli: arrived, allocated_milli: allocated, frag_milli: frag, free_milli: free }
    }

    #[track_caller]
    fn check(
        observations: &[Observation],
        total_gpus: u64,
        bucket: usize,
        expected: (Option<f64>, Option<f64>, Option<f64>),
    ) {
        let c = discretize(observations, total_gpus);
        assert_eq!((c.allo[bucket], c.frag[bucket], c.frag_ratio[bucket]), expected);
    }

    #[test]
    fn buckets_average_their_pods() {
        // 10 GPUs = 10,000 milli: 1 % is 100 milli.
        let o = [obs(50, 50, 1000.0, 9950), obs(100, 100, 2000.0, 9900), obs(140, 100, 500.0, 9900)];
        // 50 → 0.5 % rounds to 0 (half to even); 100 → 1; 140 → 1.
        check(&o, 10, 0, (Some(0.5), Some(10.0), Some(100.0 * 1000.0 / 9950.0)));
        check(&o, 10, 1, (Some(1.0), Some(12.5), Some((100.0 * 2000.0 / 9900.0 + 100.0 * 500.0 / 9900.0) / 2.0)));
        // Bucket 2 has no pod: its neighbour 1 stands in. Bucket 5 is too far from any.
        check(&o, 10, 2, (Some(1.0), Some(12.5), Some((100.0 * 2000.0 / 9900.0 + 100.0 * 500.0 / 9900.0) / 2.0)));
        check(&o, 10, 5, (None, None, None));
    }

    #[test]
    fn floats_print_like_python() {
        assert_eq!(py_float(12.0), "12.0");
        assert_eq!(py_float(0.25), "0.25");
        assert_eq!(py_float(95.1), "95.1");
    }
}
