//! The errors a run can stop with. Bad input lines do not stop a run (they are counted in the
//! report) unless the pipeline says `strict = true`.

use std::path::PathBuf;

use crate::input::BadInput;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pipeline file is not valid: `path` names the bad field (`stages[2].min_doc_words`).
    #[error("{file}: invalid pipeline at `{path}`: {message}")]
    Config { file: String, path: String, message: String },
    /// The tokenizer failed on a document.
    #[error("tokenizing failed: {message}")]
    Tokenize { message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A bad input line in a strict run.
    #[error("{0} (the pipeline is strict; set `strict = false` under [input] to count and skip bad lines)")]
    BadInput(BadInput),
    /// The output directory holds a run of a different pipeline or different inputs.
    #[error("{dir} holds an unfinished run of a different pipeline or inputs; remove it or choose another --output")]
    ForeignRun { dir: PathBuf },
    /// A checkpoint file that cannot be read back.
    #[error("{path}: corrupt checkpoint: {message}; remove the output directory and run again")]
    Checkpoint { path: PathBuf, message: String },
    /// Stopped by [`crate::RunOptions::stop_after_files`] (a test hook standing in for a kill).
    #[error("run interrupted after {files} files in phase {phase}")]
    Interrupted { phase: &'static str, files: usize },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
