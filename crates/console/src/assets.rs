//! The static files under `/console/assets/`, compiled into the binary.

use std::sync::LazyLock;

pub struct Asset {
    pub path: &'static str,
    pub body: &'static [u8],
    pub content_type: &'static str,
    /// A strong validator from the content, so browsers revalidate with one cheap request.
    pub etag: String,
}

/// `file!("js/app.js")` → the path below `assets/` and its bytes.
macro_rules! file {
    ($path:literal) => {
        ($path, include_bytes!(concat!("../assets/", $path)).as_slice())
    };
}

const FILES: &[(&str, &[u8])] = &[
    file!("console.css"),
    file!("favicon.svg"),
    file!("js/app.js"),
    file!("js/api.js"),
    file!("js/dom.js"),
    file!("js/chart.js"),
    file!("js/sse.js"),
    file!("js/csv.js"),
    file!("js/pages/signin.js"),
    file!("js/pages/fleet.js"),
    file!("js/pages/jobs.js"),
    file!("js/pages/job.js"),
    file!("js/pages/models.js"),
    file!("js/pages/playground.js"),
    file!("js/pages/usage.js"),
    file!("js/pages/keys.js"),
];

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(path, body)| Asset {
            path,
            body,
            content_type: content_type(path),
            etag: format!("\"{:016x}\"", fnv1a(body)),
        })
        .collect()
});

pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

#[cfg(test)]
pub fn all() -> &'static [Asset] {
    &ASSETS
}

/// The media type by extension; modules must be served as JavaScript or browsers refuse them.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// 64-bit FNV-1a: tiny, and good enough to tell two versions of a file apart.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}
