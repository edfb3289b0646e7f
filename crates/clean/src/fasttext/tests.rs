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

/// A model with character n-grams (2 to 4 characters, 50 buckets, 7 of them kept by pruning)
/// and a product-quantized input matrix with norms: the paths `lid.176.ftz` takes.
fn pruned_quantized() -> Vec<u8> {
    let mut b = Vec::new();
    let i32s = |b: &mut Vec<u8>, v: &[i32]| v.iter().for_each(|x| b.extend(x.to_le_bytes()));
    i32s(&mut b, &[MAGIC, VERSION]);
    i32s(&mut b, &[2, 5, 5, 1, 5, 1, 1, 3, 50, 2, 4, 100]);
    b.extend(1e-4f64.to_le_bytes());
    i32s(&mut b, &[4, 2, 2]);
    b.extend(10i64.to_le_bytes());
    b.extend(7i64.to_le_bytes());
    for (word, count, kind) in [("</s>", 3i64, 0u8), ("été", 2, 0), ("__label__pos", 9, 1), ("__label__neg", 1, 1)] {
        b.extend(word.as_bytes());
        b.push(0);
        b.extend(count.to_le_bytes());
        b.push(kind);
    }
    for (bucket, row) in PRUNED {
        i32s(&mut b, &[bucket, row]);
    }
    let quantizer = |b: &mut Vec<u8>, dim: i32, scale: f32| {
        i32s(b, &[dim, 1, dim, dim]);
        (0..256 * dim).for_each(|i| b.extend((scale * (i as f32 * 0.37).sin()).to_le_bytes()));
    };
    // Input: quantized with norms, 2 words + 7 kept buckets = 9 rows of one 2-wide piece.
    b.push(1);
    b.push(1);
    b.extend(9i64.to_le_bytes());
    b.extend(2i64.to_le_bytes());
    i32s(&mut b, &[9]);
    b.extend([3u8, 250, 17, 99, 128, 5, 64, 200, 31]);
    quantizer(&mut b, 2, 1.0);
    b.extend([7u8, 1, 255, 30, 90, 4, 12, 160, 77]);
    quantizer(&mut b, 1, 1.3);
    // Output: dense, one inner node.
    b.push(0);
    b.extend(1i64.to_le_bytes());
    b.extend(2i64.to_le_bytes());
    [0.7f32, -1.1].iter().for_each(|v| b.extend(v.to_le_bytes()));
    b
}

/// (bucket, row after the words) pairs of [`pruned_quantized`]; bucket 9 twice, the last wins.
const PRUNED: [(i32, i32); 7] = [(41, 0), (9, 1), (3, 2), (9, 3), (27, 4), (16, 5), (48, 6)];

/// The rows of a line as fastText's `Dictionary::getLine` lists them, spelled out directly.
fn reference_rows(line: &str) -> Vec<usize> {
    let words = ["</s>", "été"];
    let bucket_row = |bucket: i32| PRUNED.iter().rev().find(|p| p.0 == bucket).map(|p| 2 + p.1 as usize);
    let mut rows = Vec::new();
    for token in line.split_ascii_whitespace().chain(["</s>"]) {
        rows.extend(words.iter().position(|w| *w == token));
        if token == "</s>" {
            continue;
        }
        let chars: Vec<char> = format!("<{token}>").chars().collect();
        for i in 0..chars.len() {
            for n in 2..=4 {
                if i + n <= chars.len() {
                    let gram: String = chars[i..i + n].iter().collect();
                    rows.extend(bucket_row((dict::hash(gram.as_bytes()) % 50) as i32));
                }
            }
        }
    }
    rows
}

#[test]
fn ngram_rows_are_fasttexts_and_cached_rows_too() {
    let m = FastText::from_bytes(&pruned_quantized()).unwrap();
    // Enough distinct tokens that some hit kept buckets; each line twice (the second from cache).
    let lines: Vec<String> = (0..200).map(|i| format!("été w{i} x{} été{i} ü{}", i * 7, i % 13)).collect();
    let mut hits = 0;
    for line in lines.iter().chain(&lines) {
        let mut rows = Vec::new();
        let n = m.dict.for_each_row(line, |r| rows.push(r));
        assert_eq!(n, rows.len());
        let reference = reference_rows(line);
        hits += reference.len();
        assert_eq!(rows, reference, "{line}");
    }
    assert!(hits > 2000, "too few n-grams kept to test anything: {hits}");
}

#[test]
fn decoded_rows_add_exactly_as_quantized_ones() {
    let bytes = pruned_quantized();
    // Skip to the input matrix: header, dictionary and pruned pairs as written above.
    let header = 4 * 2 + 4 * 12 + 8 + 4 * 3 + 8 * 2;
    let dict: usize = ["</s>", "été", "__label__pos", "__label__neg"].iter().map(|w| w.len() + 1 + 8 + 1).sum();
    let input = |c: &mut read::Cursor| {
        c.take(header + dict + 8 * PRUNED.len() + 1).unwrap();
        read::Matrix::read(c, true).unwrap()
    };
    let quantized = input(&mut read::Cursor::new(&bytes));
    assert!(matches!(quantized, read::Matrix::Quantized { .. }));
    let decoded = input(&mut read::Cursor::new(&bytes)).dequantized(2);
    assert!(matches!(decoded, read::Matrix::Dense { .. }));
    let (mut a, mut b) = (vec![0.1f32, -0.3], vec![0.1f32, -0.3]);
    for row in [0, 3, 8, 3, 1, 7, 7, 2] {
        quantized.add_row(&mut a, row);
        decoded.add_row(&mut b, row);
        assert_eq!(
            a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }
}
