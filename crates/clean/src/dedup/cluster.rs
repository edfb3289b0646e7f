//! Grouping duplicates into clusters (union-find) and choosing the one document each keeps.

use std::cmp::Ordering;

/// What identifies a document for deduplication; the smallest key of a cluster is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DedupKey<'a> {
    pub id: &'a str,
    /// [`super::content_hash`] of the text: breaks ties between documents sharing an id.
    pub content: u128,
}

/// A group of two or more duplicates: indexes into the slice of keys given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// The document kept: the smallest key.
    pub kept: usize,
    /// The others, by increasing key.
    pub removed: Vec<usize>,
}

/// Clusters documents whose content hashes are equal.
pub fn exact_clusters(keys: &[DedupKey<'_>]) -> Vec<Cluster> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_unstable_by(|&a, &b| keys[a].content.cmp(&keys[b].content).then_with(|| by_key(keys, a, b)));
    let mut clusters = Vec::new();
    for run in order.chunk_by(|&a, &b| keys[a].content == keys[b].content) {
        if let [kept, removed @ ..] = run {
            if !removed.is_empty() {
                clusters.push(Cluster { kept: *kept, removed: removed.to_vec() });
            }
        }
    }
    sort_clusters(keys, &mut clusters);
    clusters
}

/// Clusters documents that share at least one LSH band: `band_keys` holds `bands` keys per
/// document, document `i`'s at `band_keys[i * bands..(i + 1) * bands]`. Sharing is transitive, as
/// in datatrove: if A matches B and B matches C, all three form one cluster.
pub fn near_clusters(keys: &[DedupKey<'_>], band_keys: &[u64], bands: usize) -> Vec<Cluster> {
    let n = keys.len();
    if bands == 0 || band_keys.len() != n * bands {
        return Vec::new();
    }
    let mut sets = UnionFind::new(n);
    let mut bucket: Vec<(u64, u32)> = Vec::with_capacity(n);
    for band in 0..bands {
        bucket.clear();
        bucket.extend((0..n).map(|i| (band_keys[i * bands + band], i as u32)));
        bucket.sort_unstable();
        for pair in bucket.windows(2) {
            if pair[0].0 == pair[1].0 {
                sets.union(pair[0].1 as usize, pair[1].1 as usize);
            }
        }
    }
    let mut members: Vec<(usize, usize)> = (0..n).map(|i| (sets.find(i), i)).collect();
    members.sort_unstable();
    let mut clusters = Vec::new();
    for run in members.chunk_by(|a, b| a.0 == b.0) {
        if run.len() < 2 {
            continue;
        }
        let mut docs: Vec<usize> = run.iter().map(|&(_, i)| i).collect();
        docs.sort_unstable_by(|&a, &b| by_key(keys, a, b));
        clusters.push(Cluster { kept: docs[0], removed: docs[1..].to_vec() });
    }
    sort_clusters(keys, &mut clusters);
    clusters
}

/// Orders by key, then by position: equal keys mean equal id and text, so which copy goes first
/// changes nothing a reader can see.
fn by_key(keys: &[DedupKey<'_>], a: usize, b: usize) -> Ordering {
    keys[a].cmp(&keys[b]).then(a.cmp(&b))
}

fn sort_clusters(keys: &[DedupKey<'_>], clusters: &mut [Cluster]) {
    clusters.sort_unstable_by(|x, y| by_key(keys, x.kept, y.kept));
}

/// Disjoint sets with path halving and union by size.
struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        Self { parent: (0..n as u32).collect(), size: vec![1; n] }
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] as usize != x {
            let grand = self.parent[self.parent[x] as usize];
            self.parent[x] = grand;
            x = grand as usize;
        }
        x
    }

    fn union(&mut self, a: usize, b: usize) {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        if self.size[a] < self.size[b] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b] = a as u32;
        self.size[a] += self.size[b];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, content: u128) -> DedupKey<'_> {
        DedupKey { id, content }
    }

    #[test]
    fn exact_keeps_smallest_id() {
        let keys = [key("b", 1), key("a", 2), key("c", 1), key("a", 1)];
        assert_eq!(exact_clusters(&keys), vec![Cluster { kept: 3, removed: vec![0, 2] }]);
    }

    #[test]
    fn near_is_transitive() {
        let keys = [key("d", 1), key("c", 2), key("b", 3), key("a", 4), key("e", 5)];
        // Two bands: d~c share band 0, c~b share band 1, a and e alone.
        let bands = [10, 20, 10, 21, 11, 21, 12, 22, 13, 23];
        assert_eq!(near_clusters(&keys, &bands, 2), vec![Cluster { kept: 2, removed: vec![1, 0] }]);
    }

    #[test]
    fn malformed_band_keys_find_nothing() {
        assert!(near_clusters(&[key("a", 1)], &[1, 2, 3], 2).is_empty());
    }
}
