//! A model written byte by byte in fastText's format, small enough to predict by hand.

use super::*;

/// dim 2; words `</s>`, `good`, `bad`; labels `pos` (count 9) and `neg` (count 1); no n-grams;
/// hierarchical softmax with one inner row `[1, 0]`; input rows `</s>` = 0, `good` = (4, 0),
/// `bad` = (−4, 0).
pub(crate) fn tiny(loss: i32) -> Vec<u8> {
    let mut b = Vec::new();
    let i32s = |b: &mut Vec<u8>, v: &[i32]| v.iter().for_each(|x| b.extend(x.to_le_bytes()));
    i32s(&mut b, &[MAGIC, VERSION]);
    // dim ws epoch minCount neg wordNgrams loss model bucket minn maxn lrUpdateRate, t
    i32s(&mut b, &[2, 5, 5, 1, 5, 1, loss, 3, 0, 0, 0, 100]);
    b.extend(1e-4f64.to_le_bytes());
    i32s(&mut b, &[5, 3, 2]);
    b.extend(10i64.to_le_bytes());
    b.extend((-1i64).to_le_bytes());
    for (word, count, kind) in
        [("</s>", 3i64, 0u8), ("good", 2, 0), ("bad", 1, 0), ("__label__pos", 9, 1), ("__label__neg", 1, 1)]
    {
        b.extend(word.as_bytes());
        b.push(0);
        b.extend(count.to_le_bytes());
        b.push(kind);
    }
    let dense = |b: &mut Vec<u8>, rows: i64, values: &[f32]| {
        b.push(0);
        b.extend(rows.to_le_bytes());
        b.extend(2i64.to_le_bytes());
        values.iter().for_each(|v| b.extend(v.to_le_bytes()));
    };
    dense(&mut b, 3, &[0.0, 0.0, 4.0, 0.0, -4.0, 0.0]);
    if loss == 1 {
        dense(&mut b, 1, &[1.0, 0.0]);
    } else {
        dense(&mut b, 2, &[1.0, 0.0, -1.0, 0.0]);
    }
    b
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn predicts_a_hand_made_hierarchical_model() {
    let m = FastText::from_bytes(&tiny(1)).unwrap();
    assert_eq!(m.labels().collect::<Vec<_>>(), ["pos", "neg"]);
    // "good" and `</s>`: hidden (2, 0). The rarer label sits on the left (1 − σ), the other right.
    let p = m.predict("good");
    assert!((f64::from(p[0]) - (sigmoid(2.0) + 1e-5)).abs() < 1e-6, "{p:?}");
    assert!((f64::from(p[1]) - (1.0 - sigmoid(2.0) + 1e-5)).abs() < 1e-6, "{p:?}");
    // Unknown words have no row (no n-grams here); "bad good bad" averages 4 rows to (−1, 0).
    let p = m.predict("bad\tgood  bad unknown");
    assert!((f64::from(p[0]) - (sigmoid(-1.0) + 1e-5)).abs() < 1e-6, "{p:?}");
}

#[test]
fn predicts_a_hand_made_softmax_model() {
    let m = FastText::from_bytes(&tiny(3)).unwrap();
    let p = m.predict("good");
    let e = (4.0f64).exp();
    assert!((f64::from(p[0]) - (e / (e + 1.0) + 1e-5)).abs() < 1e-6, "{p:?}");
}

#[test]
fn refuses_what_is_not_a_model() {
    assert_eq!(FastText::from_bytes(b"not a model at all").unwrap_err(), ModelError::NotFastText);
    let mut cut = tiny(1);
    cut.truncate(cut.len() - 3);
    assert!(matches!(FastText::from_bytes(&cut), Err(ModelError::Truncated(_))));
}

#[test]
fn huffman_tree_joins_the_smallest_first() {
    // Counts 5, 3, 1: 1 and 3 join first (node 3, count 4), then node 3, smaller, with 5.
    let tree = huffman(&[5, 3, 1]);
    assert_eq!((tree[3].left, tree[3].right), (2, 1));
    assert_eq!((tree[4].left, tree[4].right), (3, 0));
}

#[test]
fn hashes_bytes_as_signed_chars() {
    // FNV-1a of "a" is 0xe40c292c; "é"'s bytes widen with their sign (unsigned: 0x1e9de8c1).
    assert_eq!(dict::hash(b"a"), 0xe40c_292c);
    assert_eq!(dict::hash("é".as_bytes()), 0x3cfa_68c1);
}
