//! Times each D1 stage alone over a JSONL corpus held in memory, and prints a fingerprint of
//! what each computed (fastText's probabilities bit for bit, the filters' verdicts, MinHash's
//! signatures and band keys), so that an optimisation can be checked to change nothing:
//! the fingerprints before and after must be equal.
//!
//! `cargo run --release -p strata-clean --example d1_profile -- corpus.jsonl lid.176.ftz [REPEAT] [STAGE]`
//! Prints the best of REPEAT runs and the first (fastText's token cache is cold only then).
//! STAGE is one of `language`, `verdict` (the language filter's), `repetition`, `quality`, `minhash` (default: all).

use std::hash::Hasher;
use std::io::BufRead;
use std::time::Instant;

use serde_json::Value;
use strata_clean::dedup::{MinHashConfig, MinHasher};
use strata_clean::fasttext::FastText;
use strata_clean::{FastTextLanguage, GopherQuality, GopherRepetition, LanguageFilter};
use xxhash_rust::xxh3::Xxh3;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, corpus, model, ..] = args.as_slice() else {
        return Err("usage: d1_profile CORPUS.jsonl MODEL.ftz [REPEAT] [STAGE]".into());
    };
    let repeat: usize = args.get(3).map_or(Ok(3), |r| r.parse())?;
    let only = args.get(4).cloned();
    let mut texts = Vec::new();
    for line in std::io::BufReader::new(std::fs::File::open(corpus)?).lines() {
        let doc: Value = serde_json::from_str(&line?)?;
        texts.push(doc["text"].as_str().unwrap_or_default().to_string());
    }
    let mb = texts.iter().map(String::len).sum::<usize>() as f64 / 1e6;
    let started = Instant::now();
    let model = FastText::from_bytes(&std::fs::read(model)?)?;
    let language = FastTextLanguage::new(&LanguageFilter::default(), model)?;
    println!("load model: {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
    let fasttext = FastText::from_bytes(&std::fs::read(&args[2])?)?;
    let (repetition, quality) = (GopherRepetition::default(), GopherQuality::default());
    let minhash = MinHasher::new(&MinHashConfig::default())?;

    type Stage<'a> = Box<dyn Fn(&str, &mut Xxh3) + 'a>;
    let stages: Vec<(&str, Stage)> = vec![
        (
            "language",
            Box::new(|t: &str, h: &mut Xxh3| {
                for p in fasttext.predict(t) {
                    h.write_u32(p.to_bits());
                }
            }),
        ),
        ("verdict", Box::new(|t: &str, h: &mut Xxh3| h.write(format!("{:?}", language.check(t)).as_bytes()))),
        ("repetition", Box::new(|t: &str, h: &mut Xxh3| h.write(format!("{:?}", repetition.check(t)).as_bytes()))),
        ("quality", Box::new(|t: &str, h: &mut Xxh3| h.write(format!("{:?}", quality.check(t)).as_bytes()))),
        (
            "minhash",
            Box::new(|t: &str, h: &mut Xxh3| {
                let sig = minhash.signature(t).unwrap_or_default();
                for k in minhash.band_keys(&sig).into_iter().chain(sig) {
                    h.write_u64(k);
                }
            }),
        ),
    ];
    for (name, stage) in &stages {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let (mut best, mut first, mut print) = (f64::MAX, None, 0);
        for _ in 0..repeat {
            let mut h = Xxh3::new();
            let started = Instant::now();
            for t in &texts {
                stage(t, &mut h);
            }
            let took = started.elapsed().as_secs_f64();
            first.get_or_insert(took);
            best = best.min(took);
            print = h.finish();
        }
        let first = first.unwrap_or(best) * 1e3;
        println!(
            "{name:<10} {:7.1} ms (first {first:7.1})  {:6.1} MB/s  fingerprint {print:016x}",
            best * 1e3,
            mb / best
        );
    }
    Ok(())
}
