//! Stop sequences over streamed text.
//!
//! Text arrives a token at a time, and a stop sequence may span tokens, so the matcher holds back
//! the longest tail that could still begin a stop sequence and releases it once it cannot. On a
//! match the text before the stop sequence is released and the rest is dropped, as OpenAI does.

/// Feeds text, returns what may be shown now.
#[derive(Debug, Clone, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    held: String,
}

/// What one [`StopMatcher::push`] released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    pub text: String,
    pub stopped: bool,
}

impl StopMatcher {
    pub fn new(stops: Vec<String>) -> Self {
        Self { stops: stops.into_iter().filter(|s| !s.is_empty()).collect(), held: String::new() }
    }

    pub fn push(&mut self, text: &str) -> Released {
        self.held.push_str(text);
        let first_match = self.stops.iter().filter_map(|s| self.held.find(s.as_str())).min();
        if let Some(at) = first_match {
            let text = self.held[..at].to_string();
            self.held.clear();
            return Released { text, stopped: true };
        }
        let keep = self.partial_suffix_len();
        let cut = self.held.len() - keep;
        let text = self.held[..cut].to_string();
        self.held.drain(..cut);
        Released { text, stopped: false }
    }

    /// What is still held back, released when generation ends for another reason.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }

    /// Bytes at the end of `held` that are a proper prefix of some stop sequence (on a char boundary).
    fn partial_suffix_len(&self) -> usize {
        let mut best = 0;
        for stop in &self.stops {
            for (start, _) in self.held.char_indices() {
                let tail = &self.held[start..];
                if tail.len() > best && stop.starts_with(tail) {
                    best = tail.len();
                    break;
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(stops: &[&str], pieces: &[&str], expected: &str, expected_stopped: bool) {
        let mut m = StopMatcher::new(stops.iter().map(|s| s.to_string()).collect());
        let mut out = String::new();
        let mut stopped = false;
        for p in pieces {
            let r = m.push(p);
            out += &r.text;
            if r.stopped {
                stopped = true;
                break;
            }
        }
        if !stopped {
            out += &m.finish();
        }
        assert_eq!((out.as_str(), stopped), (expected, expected_stopped));
    }

    #[test]
    fn stop_sequences() {
        check(&[], &["hello", " world"], "hello world", false);
        check(&["\n\n"], &["one\n", "\ntwo"], "one", true);
        check(&["END"], &["abc E", "N", "D more"], "abc ", true);
        check(&["END"], &["abc E", "N", "x"], "abc ENx", false);
        check(&["xyz", "b"], &["aab"], "aa", true);
        check(&["é!"], &["café", "?"], "café?", false);
    }

    #[test]
    fn nothing_is_held_without_a_possible_match() {
        let mut m = StopMatcher::new(vec!["STOP".into()]);
        assert_eq!(m.push("abc").text, "abc");
        assert_eq!(m.push("xS").text, "x");
        assert_eq!(m.finish(), "S");
    }
}
