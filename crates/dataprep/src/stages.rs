//! The per-document stages, built once from the pipeline and applied to each document in turn.

use std::path::Path;

use strata_clean::fasttext::FastText;
use strata_clean::{
    normalize, C4Quality, FastTextLanguage, FineWebQuality, GopherQuality, GopherRepetition, LanguageFilter,
    NormalizeConfig, PiiCounts, PiiScrubber, Reason,
};

use crate::config::StageConfig;

/// A document stage ready to run (the PII patterns compiled).
enum Stage {
    Normalize(NormalizeConfig),
    GopherQuality(GopherQuality),
    GopherRepetition(GopherRepetition),
    C4(C4Quality),
    FineWeb(FineWebQuality),
    Language(LanguageFilter),
    FastTextLanguage(Box<FastTextLanguage>),
    Pii(Box<PiiScrubber>),
}

/// The document stages of a pipeline, in order.
pub struct DocStages {
    stages: Vec<Stage>,
}

/// What the stages did to one document.
#[derive(Debug, Clone, PartialEq)]
pub struct Processed {
    /// Text bytes after each stage the document passed, in order.
    pub bytes_after: Vec<usize>,
    /// The stage (index) and rule that removed the document, if one did.
    pub removed: Option<(usize, Reason)>,
    pub pii: PiiCounts,
    /// The final text (meaningless when removed).
    pub text: String,
}

impl DocStages {
    /// Builds the stages; dedup stages are not document stages and are skipped here. A language
    /// stage's fastText model is read here, relative to `base_dir`, so that a missing or bad
    /// file fails before any work. Errors are (config path, message).
    pub fn new(configs: &[StageConfig], base_dir: &Path) -> Result<Self, (String, String)> {
        let mut stages = Vec::with_capacity(configs.len());
        for (i, config) in configs.iter().enumerate() {
            stages.push(match config {
                StageConfig::Normalize(c) => Stage::Normalize(c.clone()),
                StageConfig::GopherQuality(c) => Stage::GopherQuality(c.clone()),
                StageConfig::GopherRepetition(c) => Stage::GopherRepetition(c.clone()),
                StageConfig::C4(c) => Stage::C4(c.clone()),
                StageConfig::Fineweb(c) => Stage::FineWeb(c.clone()),
                StageConfig::Language(c) => match &c.model {
                    None => Stage::Language(c.clone()),
                    Some(model) => Stage::FastTextLanguage(Box::new(load_fasttext(c, &base_dir.join(model), i)?)),
                },
                StageConfig::Pii(c) => Stage::Pii(Box::new(
                    PiiScrubber::new(c)
                        .map_err(|e| (format!("stages[{i}]"), format!("a PII pattern does not compile: {e}")))?,
                )),
                StageConfig::ExactDedup(_) | StageConfig::MinhashDedup(_) => continue,
            });
        }
        Ok(Self { stages })
    }

    /// Runs every stage on `text` until one removes it.
    pub fn process(&self, mut text: String) -> Processed {
        let mut bytes_after = Vec::with_capacity(self.stages.len());
        let mut pii = PiiCounts::default();
        for (i, stage) in self.stages.iter().enumerate() {
            let verdict = match stage {
                Stage::Normalize(c) => {
                    text = normalize(&text, c);
                    Ok(())
                }
                Stage::GopherQuality(c) => c.check(&text),
                Stage::GopherRepetition(c) => c.check(&text),
                Stage::FineWeb(c) => c.check(&text),
                Stage::Language(c) => c.check(&text),
                Stage::FastTextLanguage(c) => c.check(&text),
                Stage::C4(c) => c.apply(&text).map(|kept| text = kept),
                Stage::Pii(scrubber) => {
                    let (scrubbed, counts) = scrubber.scrub(&text);
                    if counts.total() > 0 {
                        text = scrubbed.into_owned();
                    }
                    pii.merge(&counts);
                    Ok(())
                }
            };
            if let Err(reason) = verdict {
                return Processed { bytes_after, removed: Some((i, reason)), pii, text };
            }
            bytes_after.push(text.len());
        }
        Processed { bytes_after, removed: None, pii, text }
    }
}

/// Reads and checks a language stage's fastText model.
fn load_fasttext(config: &LanguageFilter, path: &Path, i: usize) -> Result<FastTextLanguage, (String, String)> {
    let at = |field: &str| format!("stages[{i}].{field}");
    let bytes = std::fs::read(path).map_err(|e| (at("model"), format!("cannot read {}: {e}", path.display())))?;
    let model = FastText::from_bytes(&bytes).map_err(|e| (at("model"), format!("{}: {e}", path.display())))?;
    FastTextLanguage::new(config, model).map_err(|e| (at(e.field), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_clean::PiiConfig;

    #[test]
    fn stops_at_the_first_removal() {
        let stages = DocStages::new(
            &[
                StageConfig::Normalize(NormalizeConfig::default()),
                StageConfig::GopherQuality(GopherQuality::default()),
                StageConfig::Pii(PiiConfig::default()),
            ],
            Path::new(""),
        )
        .unwrap();
        let out = stages.process("  too   short ".into());
        assert_eq!(out.bytes_after, vec![9]);
        assert_eq!(out.removed, Some((1, Reason::GopherShortDoc)));
    }

    #[test]
    fn scrubs_and_counts() {
        let stages = DocStages::new(&[StageConfig::Pii(PiiConfig::default())], Path::new("")).unwrap();
        let out = stages.process("mail a@b.org".into());
        assert_eq!(out.text, "mail <EMAIL>");
        assert_eq!(out.pii.total(), 1);
        assert_eq!(out.removed, None);
    }

    #[test]
    fn a_missing_fasttext_model_fails_with_its_field() {
        let c = LanguageFilter { model: Some("no-such.ftz".into()), ..LanguageFilter::default() };
        let Err((path, message)) = DocStages::new(&[StageConfig::Language(c)], Path::new("/nonexistent")) else {
            panic!("a missing model was accepted");
        };
        assert_eq!(path, "stages[0].model");
        assert!(message.contains("no-such.ftz"), "{message}");
    }
}
