//! JSON strings for the output shards, byte for byte as serde_json writes them, but scanned eight
//! bytes at a time: serde_json tests every byte against its escape table, a tenth of a pipeline
//! that only reads and writes documents (texts are long, and most of their bytes need no escape).

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each of the eight bytes of `w` (little-endian) that is a control
/// character, `"` or `\\`, and maybe of some bytes after one: the lowest set bit is always a true
/// one, because a borrow only runs from a byte that matched into the bytes above it.
#[inline]
fn escapes(w: u64) -> u64 {
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
    control | zero(w ^ (ONES * b'"' as u64)) | zero(w ^ (ONES * b'\\' as u64))
}

/// Appends `s` as a quoted JSON string, escaped as serde_json escapes it: `\"`, `\\`, `\b`,
/// `\f`, `\n`, `\r`, `\t`, other controls as `\u00xx`; everything else as is.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        // Eight bytes at a time to the next byte that needs an escape, then byte by byte at
        // the end of the text.
        let at = match bytes.get(i..i + 8) {
            Some(c) => match escapes(u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])) {
                0 => {
                    i += 8;
                    continue;
                }
                m => i + m.trailing_zeros() as usize / 8,
            },
            None => i,
        };
        let b = bytes[at];
        i = at + 1;
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x0c => b'f',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0..=0x1f => b'u',
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..at]);
        out.extend_from_slice(&[b'\\', short]);
        if short == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        }
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(s: &str) {
        let mut out = Vec::new();
        push_json_str(&mut out, s);
        assert_eq!(String::from_utf8_lossy(&out), serde_json::to_string(s).expect("a string serialises"), "{s:?}");
    }

    #[test]
    fn every_ascii_byte_anywhere_in_a_word_as_serde_json() {
        // Each byte alone, and at every offset of a 17-byte text (both sides of a word boundary).
        for b in 0u8..=0x7f {
            let c = char::from(b);
            check(&c.to_string());
            for at in 0..17 {
                let mut s: String = "abcdefghijklmnopq".to_string();
                s.replace_range(at..at + 1, &c.to_string());
                check(&s);
            }
        }
    }

    #[test]
    fn mixed_texts_as_serde_json() {
        let alphabet = ['a', 'Z', ' ', '"', '\\', '\n', '\t', '\u{1}', '\u{1f}', '\u{7f}', 'é', '€', '😀', '/', '<'];
        // A fixed pseudo-random sequence of texts of every length up to 80.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for len in 0..80 {
            for _ in 0..20 {
                let s: String = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        alphabet[(x % alphabet.len() as u64) as usize]
                    })
                    .collect();
                check(&s);
            }
        }
        check("");
    }
}
