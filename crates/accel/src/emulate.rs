//! `--emulate "8xH100-80GB,4xA100-40GB"`: declared accelerators for machines that have none, so
//! that the scheduler, quotas and UI can be exercised on a laptop or in CI.

use std::fmt;
use std::str::FromStr;
use strata_domain::{Accelerator, Vendor};

/// The most devices one group may declare; no real node carries more, so a larger number is
/// almost certainly a typo (`80xH100` for `8xH100`).
pub const MAX_GROUP_COUNT: u32 = 64;

/// Memory given to an emulated model whose size is neither in its name nor in the table.
const DEFAULT_MEMORY_MIB: u64 = 16 * 1024;

const HINT: &str = "expected COUNTxMODEL items separated by commas, e.g. --emulate \"8xH100-80GB,4xA100-40GB\"";

/// Parsed `--emulate "8xH100-80GB,4xA100-40GB"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulationSpec {
    pub groups: Vec<EmulatedGroup>,
}

/// `count` devices of one `model`, e.g. `8xH100-80GB`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatedGroup {
    pub count: u32,
    /// Upper-cased, so that `h100-80gb` and `H100-80GB` schedule alike.
    pub model: String,
}

/// Why an `--emulate` value was refused: each message names the offending part and shows the
/// right form, because this is typed by people on a command line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmulateParseError {
    #[error("--emulate is empty; {hint}", hint = HINT)]
    Empty,
    #[error("--emulate item {position} is empty (stray comma?) in \"{spec}\"; {hint}", hint = HINT)]
    EmptyItem { position: usize, spec: String },
    #[error("--emulate item \"{item}\" does not start with a device count; {hint}", hint = HINT)]
    MissingCount { item: String },
    #[error("--emulate item \"{item}\" needs an 'x' between the count and the model; {hint}", hint = HINT)]
    MissingSeparator { item: String },
    #[error(
        "--emulate item \"{item}\": count {count} is out of range, it must be 1 to {max}; {hint}",
        max = MAX_GROUP_COUNT,
        hint = HINT
    )]
    CountOutOfRange { item: String, count: String },
    #[error("--emulate item \"{item}\" has no model after the count; {hint}", hint = HINT)]
    EmptyModel { item: String },
    #[error(
        "--emulate item \"{item}\": model \"{model}\" contains '{bad}'; models use only letters, digits, '-', '_' and '.'; {hint}",
        hint = HINT
    )]
    BadModelChar { item: String, model: String, bad: char },
}

impl FromStr for EmulationSpec {
    type Err = EmulateParseError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        if spec.trim().is_empty() {
            return Err(EmulateParseError::Empty);
        }
        let groups = spec
            .split(',')
            .enumerate()
            .map(|(i, item)| parse_group(item.trim(), i + 1, spec))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { groups })
    }
}

fn parse_group(item: &str, position: usize, spec: &str) -> Result<EmulatedGroup, EmulateParseError> {
    if item.is_empty() {
        return Err(EmulateParseError::EmptyItem { position, spec: spec.trim().to_owned() });
    }
    let digits_end = item.find(|c: char| !c.is_ascii_digit()).unwrap_or(item.len());
    let (digits, rest) = item.split_at(digits_end);
    if digits.is_empty() {
        return Err(EmulateParseError::MissingCount { item: item.to_owned() });
    }
    let out_of_range = || EmulateParseError::CountOutOfRange { item: item.to_owned(), count: digits.to_owned() };
    // Digits beyond u32 are still "out of range" to the person typing, not a different error.
    let count: u32 = digits.parse().map_err(|_| out_of_range())?;
    if count == 0 || count > MAX_GROUP_COUNT {
        return Err(out_of_range());
    }
    let rest = rest.trim_start();
    let Some(model) = rest.strip_prefix(['x', 'X', '×', '*']) else {
        if rest.is_empty() {
            return Err(EmulateParseError::EmptyModel { item: item.to_owned() });
        }
        return Err(EmulateParseError::MissingSeparator { item: item.to_owned() });
    };
    let model = model.trim();
    if model.is_empty() {
        return Err(EmulateParseError::EmptyModel { item: item.to_owned() });
    }
    if let Some(bad) = model.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
        return Err(EmulateParseError::BadModelChar { item: item.to_owned(), model: model.to_owned(), bad });
    }
    Ok(EmulatedGroup { count, model: model.to_ascii_uppercase() })
}

impl fmt::Display for EmulationSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, g) in self.groups.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}x{}", g.count, g.model)?;
        }
        Ok(())
    }
}

impl EmulationSpec {
    /// The declared devices, numbered from `first_index` so that they follow the real ones.
    pub fn accelerators(&self, first_index: u32) -> Vec<Accelerator> {
        let models = self.groups.iter().flat_map(|g| (0..g.count).map(move |_| g.model.as_str()));
        models
            .zip(first_index..)
            .map(|(model, index)| Accelerator {
                index,
                vendor: infer_vendor(model),
                model: model.to_owned(),
                memory_mib: infer_memory_mib(model),
                pci_bus_id: None,
                numa_node: None,
                emulated: true,
            })
            .collect()
    }
}

/// The part before the first dash, upper-cased: `h100-80gb` → `H100`.
fn family(model: &str) -> String {
    model.split('-').next().unwrap_or(model).to_ascii_uppercase()
}

/// Who makes a model, guessed from its name. Unknown names count as NVIDIA because that is what
/// nearly every emulated fleet imitates and what frameworks expect by default.
pub fn infer_vendor(model: &str) -> Vendor {
    let fam = family(model);
    let second_is_digit =
        |prefix: &str| fam.strip_prefix(prefix).and_then(|r| r.chars().next()).is_some_and(|c| c.is_ascii_digit());
    if second_is_digit("MI") || fam.starts_with("RADEON") {
        Vendor::Amd
    } else if fam.starts_with("910") || fam.starts_with("ASCEND") {
        Vendor::Ascend
    } else if matches!(fam.as_str(), "M1" | "M2" | "M3" | "M4") || fam.starts_with("APPLE") {
        Vendor::Apple
    } else if fam.starts_with("GAUDI") {
        Vendor::Intel
    } else {
        Vendor::Nvidia
    }
}

/// Memory of an emulated model: a `-80GB` / `-40G` part of its name wins, then the table of
/// well-known parts, then a modest default.
pub fn infer_memory_mib(model: &str) -> u64 {
    if let Some(gib) = model.rsplit('-').find_map(parse_gib) {
        return gib * 1024;
    }
    known_memory_gib(&family(model)).map_or(DEFAULT_MEMORY_MIB, |gib| gib * 1024)
}

/// `80GB`, `40G`, `24gb` → GiB; anything else → `None`.
fn parse_gib(part: &str) -> Option<u64> {
    let upper = part.to_ascii_uppercase();
    let digits = upper.strip_suffix("GB").or_else(|| upper.strip_suffix('G'))?;
    digits.parse().ok().filter(|n| *n > 0)
}

/// Nominal memory of common parts, in GiB, for names that do not carry a size.
fn known_memory_gib(family: &str) -> Option<u64> {
    Some(match family {
        "H100" | "H800" | "A800" => 80,
        "H200" => 141,
        "B200" | "MI300X" => 192,
        "A100" => 40,
        "V100" | "T4" | "P100" => 16,
        "L4" | "A10" | "A10G" => 24,
        "L40" | "L40S" => 48,
        "K80" => 12,
        "MI325X" => 256,
        "MI250X" | "MI250" => 128,
        "MI210" | "910B" => 64,
        "MI100" | "910" | "910A" => 32,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<EmulationSpec, EmulateParseError> {
        s.parse()
    }

    fn group(count: u32, model: &str) -> EmulatedGroup {
        EmulatedGroup { count, model: model.to_owned() }
    }

    #[test]
    fn parses_the_documented_form() {
        let spec = parse("8xH100-80GB,4xA100-40GB").expect("valid");
        assert_eq!(spec.groups, vec![group(8, "H100-80GB"), group(4, "A100-40GB")]);
        assert_eq!(spec.to_string(), "8xH100-80GB,4xA100-40GB");
    }

    #[test]
    fn accepts_other_separators_whitespace_and_lower_case() {
        let spec = parse(" 2×MI300X , 1*l4,3 X h100 , 64xT4 ").expect("valid");
        assert_eq!(spec.groups, vec![group(2, "MI300X"), group(1, "L4"), group(3, "H100"), group(64, "T4")]);
    }

    #[test]
    fn model_ending_in_x_is_not_confused_with_the_separator() {
        let spec = parse("4xMI250X").expect("valid");
        assert_eq!(spec.groups, vec![group(4, "MI250X")]);
    }

    #[test]
    fn rejects_bad_inputs_with_the_right_error() {
        use EmulateParseError as E;
        assert_eq!(parse(""), Err(E::Empty));
        assert_eq!(parse("   "), Err(E::Empty));
        assert!(matches!(parse("8xH100,"), Err(E::EmptyItem { position: 2, .. })));
        assert!(matches!(parse("H100"), Err(E::MissingCount { .. })));
        assert!(matches!(parse("xH100"), Err(E::MissingCount { .. })));
        assert!(matches!(parse("8H100"), Err(E::MissingSeparator { .. })));
        assert!(matches!(parse("8-H100"), Err(E::MissingSeparator { .. })));
        assert!(matches!(parse("0xH100"), Err(E::CountOutOfRange { .. })));
        assert!(matches!(parse("65xH100"), Err(E::CountOutOfRange { .. })));
        assert!(matches!(parse("99999999999xH100"), Err(E::CountOutOfRange { .. })));
        assert!(matches!(parse("8x"), Err(E::EmptyModel { .. })));
        assert!(matches!(parse("8"), Err(E::EmptyModel { .. })));
        assert!(matches!(parse("8x  "), Err(E::EmptyModel { .. })));
        assert!(matches!(parse("8xH100 80GB"), Err(E::BadModelChar { bad: ' ', .. })));
        assert!(matches!(parse("8xH100/80"), Err(E::BadModelChar { bad: '/', .. })));
    }

    #[test]
    fn error_messages_name_the_part_and_show_the_form() {
        let msg = parse("8xH100,0xA100").expect_err("zero").to_string();
        assert!(msg.contains("\"0xA100\""), "{msg}");
        assert!(msg.contains("1 to 64"), "{msg}");
        assert!(msg.contains("8xH100-80GB,4xA100-40GB"), "{msg}");

        let msg = parse("8xH100;4xA100").expect_err("semicolon").to_string();
        assert!(msg.contains("';'"), "{msg}");
        assert!(msg.contains("\"H100;4xA100\""), "{msg}");

        let msg = parse("H100").expect_err("no count").to_string();
        assert!(msg.contains("\"H100\"") && msg.contains("count"), "{msg}");

        let msg = parse("1xA,,2xB").expect_err("empty").to_string();
        assert!(msg.contains("item 2") && msg.contains("stray comma"), "{msg}");
    }

    #[test]
    fn vendors_are_inferred_from_names() {
        for m in [
            "H100-80GB",
            "H200",
            "A100",
            "A800",
            "H800",
            "V100",
            "T4",
            "L4",
            "L40S",
            "A10",
            "P100",
            "K80",
            "B200",
            "RTX4090",
            "WHATEVER",
        ] {
            assert_eq!(infer_vendor(m), Vendor::Nvidia, "{m}");
        }
        for m in ["MI300X", "MI250X", "mi210"] {
            assert_eq!(infer_vendor(m), Vendor::Amd, "{m}");
        }
        for m in ["910B", "ASCEND910B"] {
            assert_eq!(infer_vendor(m), Vendor::Ascend, "{m}");
        }
        for m in ["M1", "M2-ULTRA", "M4-MAX"] {
            assert_eq!(infer_vendor(m), Vendor::Apple, "{m}");
        }
        // An "M" name that is not an Apple chip stays NVIDIA (e.g. the old Tesla M60).
        assert_eq!(infer_vendor("M60"), Vendor::Nvidia);
        assert_eq!(infer_vendor("MIG"), Vendor::Nvidia);
    }

    #[test]
    fn memory_comes_from_suffix_then_table_then_default() {
        assert_eq!(infer_memory_mib("H100-80GB"), 80 * 1024);
        assert_eq!(infer_memory_mib("A100-40G"), 40 * 1024);
        assert_eq!(infer_memory_mib("A100-SXM4-80GB"), 80 * 1024);
        assert_eq!(infer_memory_mib("H100"), 80 * 1024);
        assert_eq!(infer_memory_mib("MI300X"), 192 * 1024);
        assert_eq!(infer_memory_mib("L4"), 24 * 1024);
        assert_eq!(infer_memory_mib("FOO"), 16384);
        assert_eq!(infer_memory_mib("FOO-0GB"), 16384);
    }

    #[test]
    fn accelerators_are_numbered_from_the_given_index() {
        let spec = parse("2xH100-80GB,1xMI300X").expect("valid");
        let accs = spec.accelerators(4);
        let idx: Vec<u32> = accs.iter().map(|a| a.index).collect();
        assert_eq!(idx, vec![4, 5, 6]);
        assert!(accs.iter().all(|a| a.emulated && a.pci_bus_id.is_none()));
        assert_eq!(accs[0].vendor, Vendor::Nvidia);
        assert_eq!(accs[2].vendor, Vendor::Amd);
        assert_eq!(accs[2].memory_mib, 192 * 1024);
    }
}
