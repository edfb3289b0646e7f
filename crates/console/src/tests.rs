#![allow(clippy::unwrap_used)]

use super::*;
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn fetch(path: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, String) {
    let mut req = Request::get(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = router().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn paths_map_to_pages() {
    assert_eq!(Page::route(""), Some(Page::Fleet));
    assert_eq!(Page::route("signin"), Some(Page::Signin));
    assert_eq!(Page::route("jobs"), Some(Page::Jobs));
    assert_eq!(Page::route("jobs/"), Some(Page::Jobs));
    assert_eq!(Page::route("jobs/42"), Some(Page::Job(42)));
    assert_eq!(Page::route("models"), Some(Page::Models));
    assert_eq!(Page::route("playground"), Some(Page::Playground));
    assert_eq!(Page::route("usage"), Some(Page::Usage));
    assert_eq!(Page::route("keys"), Some(Page::Keys));
    for bad in ["jobs/x", "jobs/-1", "jobs/1/2", "jobs/99999999999999999999999", "fleet2", "assets", "Jobs"] {
        assert_eq!(Page::route(bad), None, "{bad}");
    }
}

#[tokio::test]
async fn root_and_bare_console_redirect_to_the_console() {
    for path in ["/", "/console"] {
        let (status, headers, _) = fetch(path, &[]).await;
        assert!(status.is_redirection(), "{path}: {status}");
        assert_eq!(headers[header::LOCATION], "/console/");
    }
}

#[tokio::test]
async fn every_page_is_an_html_shell_with_its_module_and_the_right_nav_entry() {
    for (page, path, current) in [
        (Page::Fleet, "/console/", Some("Fleet")),
        (Page::Jobs, "/console/jobs", Some("Jobs")),
        (Page::Job(7), "/console/jobs/7", Some("Jobs")),
        (Page::Models, "/console/models", Some("Models")),
        (Page::Playground, "/console/playground", Some("Playground")),
        (Page::Usage, "/console/usage", Some("Usage")),
        (Page::Keys, "/console/keys", Some("Keys")),
        (Page::Signin, "/console/signin", None),
    ] {
        let (status, headers, body) = fetch(path, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("script-src 'self'"));
        assert!(body.starts_with("<!doctype html>"), "{path}");
        assert!(body.contains(&format!(r#"data-page="{}""#, page.name())), "{path}");
        assert!(body.contains(r#"<script type="module" src="/console/assets/js/app.js">"#));
        match current {
            Some(label) => {
                assert!(body.contains(&format!(r#" aria-current="page">{label}</a>"#)), "{path} marks {label}");
                assert_eq!(body.matches("aria-current").count(), 1, "{path}");
            }
            None => assert!(!body.contains("<nav"), "the sign-in page has no navigation"),
        }
    }
    let (_, _, job) = fetch("/console/jobs/7", &[]).await;
    assert!(job.contains(r#"data-param="7""#) && job.contains("<title>Job 7 · Strata</title>"));
}

#[tokio::test]
async fn unknown_pages_and_assets_are_404s() {
    let (status, headers, body) = fetch("/console/nope", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(body.contains("There is no such page"));
    assert!(!body.contains("aria-current"));
    let (status, _, _) = fetch("/console/jobs/abc", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, body) = fetch("/console/assets/js/nope.js", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, "no such console asset");
    let (status, _, _) = fetch("/console/assets/../Cargo.toml", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn content_types_follow_the_extension() {
    assert_eq!(assets::content_type("js/app.js"), "text/javascript; charset=utf-8");
    assert_eq!(assets::content_type("console.css"), "text/css; charset=utf-8");
    assert_eq!(assets::content_type("favicon.svg"), "image/svg+xml");
    assert_eq!(assets::content_type("x.json"), "application/json");
    assert_eq!(assets::content_type("README"), "application/octet-stream");
}

#[tokio::test]
async fn assets_are_served_with_their_type_and_revalidate_with_an_etag() {
    let (status, headers, body) = fetch("/console/assets/js/app.js", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    assert!(body.contains("import"));
    let etag = headers[header::ETAG].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    let (status, headers, body) = fetch("/console/assets/js/app.js", &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(headers[header::ETAG], etag.as_str());
    let (status, _, _) = fetch("/console/assets/js/app.js", &[("if-none-match", "\"stale\"")]).await;
    assert_eq!(status, StatusCode::OK);
    let (_, css, _) = fetch("/console/assets/console.css", &[]).await;
    assert_ne!(css[header::ETAG], etag.as_str(), "different files, different tags");
}

/// Relative module imports (`from './dom.js'`, `import('./pages/x.js')`) of one asset.
fn imports(path: &str, text: &str) -> Vec<String> {
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    let mut found = Vec::new();
    for quote in ["from '", "import('"] {
        for (i, _) in text.match_indices(quote) {
            let rest = &text[i + quote.len()..];
            let Some(end) = rest.find('\'') else { continue };
            let spec = &rest[..end];
            let mut parts: Vec<&str> = if dir.is_empty() { vec![] } else { dir.split('/').collect() };
            for seg in spec.split('/') {
                match seg {
                    "." => {}
                    ".." => {
                        parts.pop();
                    }
                    s => parts.push(s),
                }
            }
            found.push(parts.join("/"));
        }
    }
    found
}

#[test]
fn every_module_import_and_shell_link_resolves_to_an_asset() {
    for asset in assets::all().iter().filter(|a| a.path.ends_with(".js")) {
        let text = std::str::from_utf8(asset.body).unwrap();
        for target in imports(asset.path, text) {
            assert!(assets::find(&target).is_some(), "{} imports {target}, which is not an asset", asset.path);
        }
    }
    let shell = pages::render(&Page::Fleet);
    for (i, _) in shell.match_indices("/console/assets/") {
        let rest = &shell[i + "/console/assets/".len()..];
        let file = &rest[..rest.find('"').unwrap()];
        assert!(assets::find(file).is_some(), "the shell links {file}, which is not an asset");
    }
}

#[test]
fn every_page_has_a_module_and_app_js_knows_it() {
    let app = std::str::from_utf8(assets::find("js/app.js").unwrap().body).unwrap();
    for page in Page::ALL {
        let module = format!("js/pages/{}.js", page.name());
        let text = std::str::from_utf8(assets::find(&module).unwrap().body).unwrap();
        assert!(text.contains("export function mount") || text.contains("export async function mount"), "{module}");
        assert!(app.contains(&format!("'{}'", page.name())), "app.js does not list {}", page.name());
    }
}

#[test]
fn skeletons_mark_admin_only_controls_and_have_no_inline_script_or_style() {
    for page in Page::ALL {
        let html = pages::render(&page);
        // The CSP forbids inline code; one slip would silently break a page.
        assert!(!html.contains("<script>") && !html.contains(" onclick=") && !html.contains(" style="), "{page:?}");
    }
    assert!(pages::render(&Page::Keys).contains(r#"<section class="panel" data-admin>"#), "new tenant is admin-only");
}
