//! Property tests of the invariants the shell relies on: deduplication keeps exactly one document
//! per cluster whatever the input order, and scrubbing leaves no Luhn-valid card number.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use strata_clean::dedup::{content_hash, exact_clusters, near_clusters, DedupKey, MinHashConfig, MinHasher};
use strata_clean::{luhn_valid, PiiConfig, PiiScrubber};

const WORDS: [&str; 12] =
    ["river", "stone", "light", "market", "winter", "garden", "engine", "letter", "cloud", "bridge", "song", "salt"];

/// Documents drawn from a few base texts, so that exact and near duplicates are common.
fn corpus() -> impl Strategy<Value = Vec<(String, String)>> {
    let base = prop::collection::vec(prop::sample::select(WORDS.to_vec()), 8..30);
    prop::collection::vec(base, 1..4).prop_flat_map(|bases| {
        let n = bases.len();
        let doc = (0..n, prop::option::of((0usize..30, prop::sample::select(WORDS.to_vec()))), "[a-e]{1,2}");
        prop::collection::vec(doc, 1..25).prop_map(move |docs| {
            docs.into_iter()
                .map(|(b, edit, id)| {
                    let mut words = bases[b].clone();
                    if let Some((at, w)) = edit {
                        let at = at % words.len();
                        words[at] = w;
                    }
                    (id, words.join(" "))
                })
                .collect()
        })
    })
}

/// Clusters as sets of (id, content) keys, so two runs over permuted inputs can be compared.
type KeyedCluster = (DedupKey<'static>, Vec<DedupKey<'static>>);

fn dedup(docs: &[(String, String)]) -> (Vec<KeyedCluster>, Vec<KeyedCluster>) {
    let hasher = MinHasher::new(&MinHashConfig { bands: 8, rows: 2, shingle_size: 3, ..Default::default() }).unwrap();
    let leaked: Vec<(&'static str, u128)> =
        docs.iter().map(|(id, text)| (&*Box::leak(id.clone().into_boxed_str()), content_hash(text))).collect();
    let keys: Vec<DedupKey<'static>> = leaked.iter().map(|&(id, content)| DedupKey { id, content }).collect();
    let bands: Vec<u64> = docs.iter().flat_map(|(_, text)| hasher.band_keys_of(text)).collect();
    let keyed = |clusters: Vec<strata_clean::dedup::Cluster>| -> Vec<KeyedCluster> {
        clusters.into_iter().map(|c| (keys[c.kept], c.removed.iter().map(|&i| keys[i]).collect())).collect()
    };
    let exact = exact_clusters(&keys);
    let near = near_clusters(&keys, &bands, 8);
    for clusters in [&exact, &near] {
        let mut seen = vec![false; docs.len()];
        for c in clusters.iter() {
            for &i in std::iter::once(&c.kept).chain(&c.removed) {
                assert!(!seen[i], "document {i} in two clusters");
                seen[i] = true;
                assert!(keys[c.kept] <= keys[i], "kept document is not the smallest");
            }
            assert!(!c.removed.is_empty());
        }
    }
    for c in &exact {
        assert!(c.removed.iter().all(|&i| keys[i].content == keys[c.kept].content));
    }
    (keyed(exact), keyed(near))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn dedup_keeps_one_per_cluster_whatever_the_order(docs in corpus(), seed in any::<u64>()) {
        let mut shuffled = docs.clone();
        // A deterministic Fisher–Yates shuffle driven by the drawn seed.
        let mut state = seed;
        for i in (1..shuffled.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (state >> 33) as usize % (i + 1));
        }
        prop_assert_eq!(dedup(&docs), dedup(&shuffled));
    }

    #[test]
    fn scrubbing_leaves_no_valid_card(
        parts in prop::collection::vec(prop_oneof![
            "[0-9]{1,5}",
            "[ -]",
            "[a-z.@:+()]{1,4}",
            Just(" ".to_string()),
            "[0-9]{12,18}".prop_map(|d| with_check_digit(&d)),
            "[0-9]{15}".prop_map(|d| grouped(&with_check_digit(&d))),
        ], 0..30)
    ) {
        let text = parts.concat();
        let scrubber = PiiScrubber::new(&PiiConfig::default()).unwrap();
        let (out, _) = scrubber.scrub(&text);
        prop_assert!(!has_valid_card(&out), "{:?} -> {:?}", text, out);
    }
}

/// `digits` followed by its Luhn check digit.
fn with_check_digit(digits: &str) -> String {
    (0..10).map(|d| format!("{digits}{d}")).find(|s| luhn_valid(s)).unwrap()
}

/// Digits in groups of four joined by spaces, as cards are printed.
fn grouped(digits: &str) -> String {
    digits.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

/// Any window of whole digit groups (joined by one space or dash) with 13–19 digits, Luhn-valid.
fn has_valid_card(text: &str) -> bool {
    let re = regex::Regex::new(r"[0-9](?:[ -]?[0-9])*").unwrap();
    let found = re.find_iter(text).any(|m| {
        let groups: Vec<&str> = m.as_str().split([' ', '-']).collect();
        (0..groups.len()).any(|i| {
            (i..groups.len()).any(|j| {
                let digits: String = groups[i..=j].concat();
                (13..=19).contains(&digits.len()) && luhn_valid(&digits)
            })
        })
    });
    found
}
