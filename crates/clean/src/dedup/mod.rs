//! Deduplication: exact (hash of the text) and near-duplicate (MinHash LSH), both ending in
//! clusters of documents of which exactly one is kept.
//!
//! The work is split so that a shell can stream: per document it computes a small [`DedupKey`] and
//! the LSH band keys ([`MinHasher::band_keys`]) as it reads, keeps only those, and calls
//! [`exact_clusters`] and [`near_clusters`] once every input has been seen. Deduplication is thus
//! across all inputs, while the texts themselves never have to be in memory together.
//!
//! Which document of a cluster is kept depends only on the documents, never on the order they came
//! in: the one with the smallest [`DedupKey`] (its id, then its content hash).

mod cluster;
mod minhash;
mod numpy_random;
mod simplify;

pub use cluster::{exact_clusters, near_clusters, Cluster, DedupKey};
pub use minhash::{similarity, MinHashConfig, MinHasher};

/// The exact-duplicate hash of a text (128-bit xxh3, so accidental collisions are out of reach).
pub fn content_hash(text: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(text.as_bytes())
}
