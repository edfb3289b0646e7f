//! Each filter's verdict on every document of a JSONL corpus, one JSON line per document, for
//! bench/d1.sh to diff stage by stage against datatrove's (bench/d1_datatrove.py `verdicts`).
//! The pipeline itself only writes what it keeps; this says why the rest went.
//!
//! `cargo run --release -p strata-clean --example d1_verdicts -- corpus.jsonl [lid.176.ftz] > verdicts.jsonl`
//! With a fastText model the language verdict is fastText's (as datatrove's), else whatlang's.

use std::io::{BufRead, BufWriter, Write};

use serde_json::{json, Value};
use strata_clean::fasttext::FastText;
use strata_clean::{FastTextLanguage, GopherQuality, GopherRepetition, LanguageFilter, Reason};

fn verdict(result: Result<(), Reason>) -> String {
    result.map_or_else(|reason| reason.to_string(), |()| "kept".into())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: d1_verdicts CORPUS.jsonl [MODEL.ftz]")?;
    let fasttext = match std::env::args().nth(2) {
        Some(model) => {
            Some(FastTextLanguage::new(&LanguageFilter::default(), FastText::from_bytes(&std::fs::read(model)?)?)?)
        }
        None => None,
    };
    let (language, repetition, quality) =
        (LanguageFilter::default(), GopherRepetition::default(), GopherQuality::default());
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in std::io::BufReader::new(std::fs::File::open(path)?).lines() {
        let doc: Value = serde_json::from_str(&line?)?;
        let (id, text) = (&doc["id"], doc["text"].as_str().unwrap_or_default());
        let detected = whatlang::detect(text).map(|info| json!([info.lang().code(), info.confidence()]));
        let language = match &fasttext {
            Some(f) => verdict(f.check(text)),
            None => verdict(language.check(text)),
        };
        let row = json!({
            "id": id,
            "language": language,
            "fasttext": fasttext.as_ref().and_then(|f| f.best(text)),
            "gopher_repetition": verdict(repetition.check(text)),
            "gopher_quality": verdict(quality.check(text)),
            "whatlang": detected,
        });
        writeln!(out, "{row}")?;
    }
    Ok(())
}
