//! PII scrubbing: e-mail addresses, phone numbers, IPv4/IPv6 addresses, credit-card numbers
//! (Luhn-checked) and common secret formats, each replaced by a typed placeholder such as `<EMAIL>`.
//!
//! The passes run in a fixed order, most specific first, so a secret is not half-eaten by the phone
//! pattern and a card number not split by it. The card pass runs once more at the end: replacing
//! a phone number can cut a longer digit run and leave a valid card number standing on its own,
//! and the last pass guarantees no Luhn-valid card number is left (a property test checks it).

use std::borrow::Cow;
use std::net::Ipv6Addr;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// The kinds of PII found, in the order the passes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PiiKind {
    PrivateKey,
    AwsKey,
    GithubToken,
    SlackToken,
    GoogleApiKey,
    Email,
    Ipv6,
    Ipv4,
    CreditCard,
    Phone,
}

impl PiiKind {
    pub const ALL: [PiiKind; 10] = [
        PiiKind::PrivateKey,
        PiiKind::AwsKey,
        PiiKind::GithubToken,
        PiiKind::SlackToken,
        PiiKind::GoogleApiKey,
        PiiKind::Email,
        PiiKind::Ipv6,
        PiiKind::Ipv4,
        PiiKind::CreditCard,
        PiiKind::Phone,
    ];

    /// What replaces a match in the text.
    pub fn placeholder(self) -> &'static str {
        match self {
            PiiKind::PrivateKey => "<PRIVATE_KEY>",
            PiiKind::AwsKey => "<AWS_KEY>",
            PiiKind::GithubToken => "<GITHUB_TOKEN>",
            PiiKind::SlackToken => "<SLACK_TOKEN>",
            PiiKind::GoogleApiKey => "<API_KEY>",
            PiiKind::Email => "<EMAIL>",
            PiiKind::Ipv6 => "<IPV6>",
            PiiKind::Ipv4 => "<IPV4>",
            PiiKind::CreditCard => "<CREDIT_CARD>",
            PiiKind::Phone => "<PHONE>",
        }
    }

    /// The name reports use.
    pub fn name(self) -> &'static str {
        match self {
            PiiKind::PrivateKey => "private_key",
            PiiKind::AwsKey => "aws_key",
            PiiKind::GithubToken => "github_token",
            PiiKind::SlackToken => "slack_token",
            PiiKind::GoogleApiKey => "google_api_key",
            PiiKind::Email => "email",
            PiiKind::Ipv6 => "ipv6",
            PiiKind::Ipv4 => "ipv4",
            PiiKind::CreditCard => "credit_card",
            PiiKind::Phone => "phone",
        }
    }
}

/// How many of each kind were replaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PiiCounts([u64; PiiKind::ALL.len()]);

impl PiiCounts {
    pub fn get(&self, kind: PiiKind) -> u64 {
        self.0[kind as usize]
    }

    pub fn add(&mut self, kind: PiiKind, n: u64) {
        self.0[kind as usize] += n;
    }

    pub fn merge(&mut self, other: &PiiCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Kinds with a non-zero count, in pass order.
    pub fn iter(&self) -> impl Iterator<Item = (PiiKind, u64)> + '_ {
        PiiKind::ALL.into_iter().map(|k| (k, self.get(k))).filter(|&(_, n)| n > 0)
    }
}

/// Which kinds are scrubbed. All are on by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PiiConfig {
    pub email: bool,
    pub phone: bool,
    pub ip: bool,
    pub credit_card: bool,
    /// Private keys, AWS access keys, GitHub and Slack tokens, Google API keys.
    pub secrets: bool,
}

impl Default for PiiConfig {
    fn default() -> Self {
        Self { email: true, phone: true, ip: true, credit_card: true, secrets: true }
    }
}

/// A compiled scrubber; build once, share across threads.
#[derive(Debug, Clone)]
pub struct PiiScrubber {
    config: PiiConfig,
    private_key: Regex,
    aws: Regex,
    github: Regex,
    slack: Regex,
    google: Regex,
    email: Regex,
    ipv6: Regex,
    ipv4: Regex,
    digit_run: Regex,
    phone: Regex,
}

const OCTET: &str = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";

impl PiiScrubber {
    pub fn new(config: &PiiConfig) -> Result<Self, regex::Error> {
        Ok(Self {
            config: config.clone(),
            private_key: Regex::new(
                r"-----BEGIN[A-Z ]*PRIVATE KEY-----(?:\s*[A-Za-z0-9+/=]{16,})*\s*(?:-----END[A-Z ]*PRIVATE KEY-----)?",
            )?,
            aws: Regex::new(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b")?,
            github: Regex::new(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b")?,
            slack: Regex::new(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")?,
            google: Regex::new(r"\bAIza[0-9A-Za-z_-]{35}")?,
            email: Regex::new(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b")?,
            ipv6: Regex::new(r"(?i)[0-9a-f:]*:[0-9a-f]*:[0-9a-f:]*")?,
            ipv4: Regex::new(&format!(r"\b(?:{OCTET}\.){{3}}{OCTET}\b"))?,
            digit_run: Regex::new(r"[0-9](?:[ -]?[0-9])*")?,
            phone: Regex::new(
                r"(?:\+[0-9]{1,3}[ .-]?)?(?:\([0-9]{1,4}\)[ .-]?)?[0-9]{2,4}(?:[ .-][0-9]{2,4}){0,3}[ .-][0-9]{3,4}",
            )?,
        })
    }

    /// Returns the scrubbed text and what was replaced.
    pub fn scrub<'a>(&self, text: &'a str) -> (Cow<'a, str>, PiiCounts) {
        let mut counts = PiiCounts::default();
        let mut text = Cow::Borrowed(text);
        let c = &self.config;
        let has_digit = text.bytes().any(|b| b.is_ascii_digit());
        if c.secrets {
            if text.contains("PRIVATE KEY-----") {
                pass(&mut text, &mut counts, PiiKind::PrivateKey, &self.private_key, |_, _, _| true);
            }
            pass(&mut text, &mut counts, PiiKind::AwsKey, &self.aws, |_, _, _| true);
            if text.contains("gh") || text.contains("github_pat_") {
                pass(&mut text, &mut counts, PiiKind::GithubToken, &self.github, |_, _, _| true);
            }
            if text.contains("xox") {
                pass(&mut text, &mut counts, PiiKind::SlackToken, &self.slack, |_, _, _| true);
            }
            if text.contains("AIza") {
                pass(&mut text, &mut counts, PiiKind::GoogleApiKey, &self.google, |_, _, _| true);
            }
        }
        if c.email && text.contains('@') {
            pass(&mut text, &mut counts, PiiKind::Email, &self.email, |_, _, _| true);
        }
        if c.ip && text.contains(':') {
            pass(&mut text, &mut counts, PiiKind::Ipv6, &self.ipv6, is_ipv6);
        }
        if !has_digit {
            return (text, counts);
        }
        if c.ip {
            pass(&mut text, &mut counts, PiiKind::Ipv4, &self.ipv4, standalone_number);
        }
        if c.credit_card {
            self.card_pass(&mut text, &mut counts);
        }
        if c.phone {
            let mut phones = 0;
            pass(&mut text, &mut counts, PiiKind::Phone, &self.phone, |t, s, e| {
                let ok = is_phone(t, s, e);
                phones += u64::from(ok);
                ok
            });
            if c.credit_card && phones > 0 {
                self.card_pass(&mut text, &mut counts);
            }
        }
        (text, counts)
    }

    /// Replaces card numbers: within each run of digit groups (separated by one space or dash), the
    /// leftmost-longest window of whole groups with 13–19 digits that passes Luhn's check.
    fn card_pass(&self, text: &mut Cow<'_, str>, counts: &mut PiiCounts) {
        let mut spans = Vec::new();
        for m in self.digit_run.find_iter(text) {
            if m.as_str().len() >= 13 {
                card_windows(text, m.start(), m.as_str(), &mut spans);
            }
        }
        if !spans.is_empty() {
            counts.add(PiiKind::CreditCard, spans.len() as u64);
            *text = Cow::Owned(splice(text, &spans, PiiKind::CreditCard.placeholder()));
        }
    }
}

/// Finds card-number windows inside one digit run starting at byte `offset`.
fn card_windows(_text: &str, offset: usize, run: &str, spans: &mut Vec<(usize, usize)>) {
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (i, b) in run.bytes().enumerate() {
        match (b.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                groups.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        groups.push((s, run.len()));
    }
    let mut i = 0;
    while i < groups.len() {
        let mut found = None;
        for j in (i..groups.len()).rev() {
            let digits: usize = groups[i..=j].iter().map(|(s, e)| e - s).sum();
            if (13..=19).contains(&digits) && luhn_valid(&run[groups[i].0..groups[j].1]) {
                found = Some(j);
                break;
            }
        }
        match found {
            Some(j) => {
                spans.push((offset + groups[i].0, offset + groups[j].1));
                i = j + 1;
            }
            None => i += 1,
        }
    }
}

/// Luhn's checksum over the digits of `s` (other characters are skipped); false without digits.
pub fn luhn_valid(s: &str) -> bool {
    let mut sum = 0u32;
    let mut n = 0usize;
    for b in s.bytes().rev().filter(u8::is_ascii_digit) {
        let d = u32::from(b - b'0');
        sum += if n % 2 == 1 {
            if d * 2 > 9 {
                d * 2 - 9
            } else {
                d * 2
            }
        } else {
            d
        };
        n += 1;
    }
    n > 0 && sum.is_multiple_of(10)
}

/// Runs one regex pass, replacing the matches `accept` approves.
fn pass(
    text: &mut Cow<'_, str>,
    counts: &mut PiiCounts,
    kind: PiiKind,
    re: &Regex,
    mut accept: impl FnMut(&str, usize, usize) -> bool,
) {
    let spans: Vec<(usize, usize)> =
        re.find_iter(text).map(|m| (m.start(), m.end())).filter(|&(s, e)| accept(text, s, e)).collect();
    if !spans.is_empty() {
        counts.add(kind, spans.len() as u64);
        *text = Cow::Owned(splice(text, &spans, kind.placeholder()));
    }
}

/// `text` with each (sorted, disjoint) byte span replaced by `placeholder`.
fn splice(text: &str, spans: &[(usize, usize)], placeholder: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for &(s, e) in spans {
        out.push_str(&text[last..s]);
        out.push_str(placeholder);
        last = e;
    }
    out.push_str(&text[last..]);
    out
}

fn char_before(text: &str, start: usize) -> Option<char> {
    text[..start].chars().next_back()
}

fn char_after(text: &str, end: usize) -> Option<char> {
    text[end..].chars().next()
}

/// A dotted number not glued to more digits or dots (so `1.2.3.4.5` is a version, not an address).
fn standalone_number(text: &str, start: usize, end: usize) -> bool {
    let glued = |c: Option<char>, next: Option<char>| match c {
        Some(c) if c.is_alphanumeric() => true,
        Some('.') => next.is_some_and(|n| n.is_ascii_digit()),
        _ => false,
    };
    let before = char_before(text, start);
    let before2 = before.and_then(|b| char_before(text, start - b.len_utf8()));
    !glued(before, before2) && !glued(char_after(text, end), text[end..].chars().nth(1))
}

fn is_ipv6(text: &str, start: usize, end: usize) -> bool {
    let candidate = &text[start..end];
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
    if word(char_before(text, start)) || word(char_after(text, end)) {
        return false;
    }
    // At least four hex digits, so `a::b` in code and `::` in prose stay.
    candidate.bytes().filter(u8::is_ascii_hexdigit).count() >= 4 && candidate.parse::<Ipv6Addr>().is_ok()
}

fn is_phone(text: &str, start: usize, end: usize) -> bool {
    let digits = text[start..end].bytes().filter(u8::is_ascii_digit).count();
    let before = char_before(text, start);
    let glued_before = before.is_some_and(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '+' | '/' | '_'));
    let mut after = text[end..].chars();
    let glued_after = match after.next() {
        Some(c) if c.is_alphanumeric() || c == '_' => true,
        Some('-' | '.' | '/') => after.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    };
    (9..=15).contains(&digits) && !glued_before && !glued_after
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrub(text: &str) -> (String, Vec<(&'static str, u64)>) {
        let scrubber = PiiScrubber::new(&PiiConfig::default()).unwrap();
        let (out, counts) = scrubber.scrub(text);
        (out.into_owned(), counts.iter().map(|(k, n)| (k.name(), n)).collect())
    }

    fn check(text: &str, expected: &str) {
        assert_eq!(scrub(text).0, expected, "input {text:?}");
    }

    #[test]
    fn replaces_emails() {
        assert_eq!(
            scrub("Write to jane.doe+news@example.co.uk or BOB@Mail.org."),
            ("Write to <EMAIL> or <EMAIL>.".into(), vec![("email", 2)])
        );
    }

    #[test]
    fn replaces_phone_numbers_but_not_dates_or_years() {
        check("Call (555) 123-4567 or +44 20 7946 0958 today.", "Call <PHONE> or <PHONE> today.");
        check("Call 555-123-4567.", "Call <PHONE>.");
        check("On 2024-01-15 in 1999 we paid 1,000 dollars.", "On 2024-01-15 in 1999 we paid 1,000 dollars.");
    }

    #[test]
    fn replaces_ip_addresses_but_not_versions() {
        check("Host 192.168.0.1 and 10.0.0.255, version 1.2.3.4.5.", "Host <IPV4> and <IPV4>, version 1.2.3.4.5.");
        check("Reach 2001:db8:85a3::8a2e:370:7334 or fe80::1ff:fe23:4567:890a now", "Reach <IPV6> or <IPV6> now");
        check("std::vector at 12:30:45 and a::b", "std::vector at 12:30:45 and a::b");
    }

    #[test]
    fn replaces_luhn_valid_cards_only() {
        check("Card 4111 1111 1111 1111 exp 12/25.", "Card <CREDIT_CARD> exp 12/25.");
        check("Card 4111-1111-1111-1112 is a typo.", "Card 4111-1111-1111-1112 is a typo.");
        check("In 1999 4111111111111111 was used.", "In 1999 <CREDIT_CARD> was used.");
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("79927398710"));
        assert!(!luhn_valid("abc"));
    }

    #[test]
    fn replaces_secrets() {
        check("key AKIAIOSFODNN7EXAMPLE here", "key <AWS_KEY> here");
        check(&format!("token ghp_{} ok", "a".repeat(36)), "token <GITHUB_TOKEN> ok");
        check("slack xoxb-1234567890-abcdef done", "slack <SLACK_TOKEN> done");
        check(
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx7abcdefgh\nQWERTYUIOPASDFGH1234\n-----END RSA PRIVATE KEY-----\nafter",
            "<PRIVATE_KEY>\nafter",
        );
    }

    #[test]
    fn leaves_clean_text_borrowed() {
        let scrubber = PiiScrubber::new(&PiiConfig::default()).unwrap();
        let (out, counts) = scrubber.scrub("Nothing to see here: 42 apples.");
        assert!(matches!(out, Cow::Borrowed(_)));
        assert_eq!(counts.total(), 0);
    }

    #[test]
    fn kinds_can_be_turned_off() {
        let scrubber = PiiScrubber::new(&PiiConfig { email: false, ..Default::default() }).unwrap();
        assert_eq!(scrubber.scrub("a@b.com").0, "a@b.com");
    }
}
