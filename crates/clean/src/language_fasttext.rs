//! The language filter run by a fastText model (`lid.176.ftz`, as datatrove's filter runs it),
//! instead of whatlang: the same thresholds then mean the same thing on both sides.

use crate::fasttext::FastText;
use crate::{ConfigError, LanguageFilter, Reason};

/// A [`LanguageFilter`] with its fastText model loaded.
#[derive(Debug)]
pub struct FastTextLanguage {
    model: FastText,
    /// Label indices of the wanted languages.
    wanted: Vec<usize>,
    threshold: f32,
}

impl FastTextLanguage {
    /// The filter's languages must be labels of the model (`en`, not `eng`: fastText's codes).
    pub fn new(filter: &LanguageFilter, model: FastText) -> Result<Self, ConfigError> {
        filter.validate_threshold()?;
        let labels: Vec<&str> = model.labels().collect();
        let mut wanted = Vec::new();
        for code in &filter.languages {
            let Some(i) = labels.iter().position(|l| l == code) else {
                return Err(ConfigError {
                    field: "languages",
                    value: format!("{code:?}"),
                    expected: "labels of the fastText model (e.g. \"en\")",
                });
            };
            wanted.push(i);
        }
        Ok(Self { model, wanted, threshold: filter.min_confidence as f32 })
    }

    /// Keeps the document when a wanted language's probability is above the threshold, as
    /// datatrove's `any(score > threshold)`. Newlines are spaces to the model (datatrove replaces
    /// them, since fastText predicts one line).
    pub fn check(&self, text: &str) -> Result<(), Reason> {
        let probs = self.model.predict(text);
        if probs.is_empty() {
            return Err(Reason::LanguageUnknown);
        }
        if self.wanted.iter().any(|&i| probs[i] > self.threshold) {
            return Ok(());
        }
        let best = (0..probs.len()).max_by(|&a, &b| probs[a].total_cmp(&probs[b])).unwrap_or(0);
        Err(if self.wanted.contains(&best) { Reason::LanguageLowConfidence } else { Reason::LanguageNotWanted })
    }

    /// The most probable label and its probability (for reports and benchmarks).
    pub fn best(&self, text: &str) -> Option<(&str, f32)> {
        let probs = self.model.predict(text);
        let best = (0..probs.len()).max_by(|&a, &b| probs[a].total_cmp(&probs[b]))?;
        self.model.labels().nth(best).map(|l| (l, probs[best]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fasttext::tests::tiny;

    fn filter(languages: &[&str], min_confidence: f64) -> Result<FastTextLanguage, ConfigError> {
        let config = LanguageFilter {
            languages: languages.iter().map(|l| l.to_string()).collect(),
            min_confidence,
            model: Some("tiny.bin".into()),
        };
        FastTextLanguage::new(&config, FastText::from_bytes(&tiny(1)).unwrap())
    }

    #[test]
    fn keeps_above_the_threshold_and_says_why_it_removes() {
        // The tiny model: "good" is `pos` at σ(2) ≈ 0.88, "bad good bad" is `pos` at σ(−1) ≈ 0.27.
        let pos = filter(&["pos"], 0.65).unwrap();
        assert_eq!(pos.check("good"), Ok(()));
        assert_eq!(pos.check("good\nnews"), Ok(()));
        assert_eq!(pos.check("bad good bad"), Err(Reason::LanguageNotWanted));
        assert_eq!(filter(&["pos"], 0.9).unwrap().check("good"), Err(Reason::LanguageLowConfidence));
        // Either wanted language may pass it.
        assert_eq!(filter(&["neg", "pos"], 0.65).unwrap().check("bad good bad"), Ok(()));
        assert_eq!(pos.best("good").map(|(l, _)| l), Some("pos"));
    }

    #[test]
    fn codes_must_be_the_model_labels() {
        assert_eq!(filter(&["en"], 0.65).unwrap_err().field, "languages");
        assert_eq!(filter(&[], 0.65).unwrap_err().field, "languages");
        assert_eq!(filter(&["pos"], 1.5).unwrap_err().field, "min_confidence");
    }
}
