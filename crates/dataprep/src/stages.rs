//! The per-document stages, built once from the pipeline and applied to each document in turn.

use strata_clean::{
    normalize, C4Quality, FineWebQuality, GopherQuality, GopherRepetition, LanguageFilter, NormalizeConfig, PiiCounts,
    PiiScrubber, Reason,
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
    /// Builds the stages; dedup stages are not document stages and are skipped here.
    pub fn new(configs: &[StageConfig]) -> Result<Self, strata_clean::PatternError> {
        let mut stages = Vec::with_capacity(configs.len());
        for config in configs {
            stages.push(match config {
                StageConfig::Normalize(c) => Stage::Normalize(c.clone()),
                StageConfig::GopherQuality(c) => Stage::GopherQuality(c.clone()),
                StageConfig::GopherRepetition(c) => Stage::GopherRepetition(c.clone()),
                StageConfig::C4(c) => Stage::C4(c.clone()),
                StageConfig::Fineweb(c) => Stage::FineWeb(c.clone()),
                StageConfig::Language(c) => Stage::Language(c.clone()),
                StageConfig::Pii(c) => Stage::Pii(Box::new(PiiScrubber::new(c)?)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use strata_clean::PiiConfig;

    #[test]
    fn stops_at_the_first_removal() {
        let stages = DocStages::new(&[
            StageConfig::Normalize(NormalizeConfig::default()),
            StageConfig::GopherQuality(GopherQuality::default()),
            StageConfig::Pii(PiiConfig::default()),
        ])
        .unwrap();
        let out = stages.process("  too   short ".into());
        assert_eq!(out.bytes_after, vec![9]);
        assert_eq!(out.removed, Some((1, Reason::GopherShortDoc)));
    }

    #[test]
    fn scrubs_and_counts() {
        let stages = DocStages::new(&[StageConfig::Pii(PiiConfig::default())]).unwrap();
        let out = stages.process("mail a@b.org".into());
        assert_eq!(out.text, "mail <EMAIL>");
        assert_eq!(out.pii.total(), 1);
        assert_eq!(out.removed, None);
    }
}
