//! The pages: which path is which page, and the HTML shell each is served in. A page's skeleton
//! (its headings, panels and forms) is `pages/<name>.html`; its module `assets/js/pages/<name>.js`
//! fills it with data.

/// One page of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Signin,
    Fleet,
    Jobs,
    /// One job, by id.
    Job(u64),
    Models,
    Playground,
    Usage,
    Keys,
}

/// The navigation bar, in order: (page, label, path).
const NAV: &[(Page, &str, &str)] = &[
    (Page::Fleet, "Fleet", "/console/"),
    (Page::Jobs, "Jobs", "/console/jobs"),
    (Page::Models, "Models", "/console/models"),
    (Page::Playground, "Playground", "/console/playground"),
    (Page::Usage, "Usage", "/console/usage"),
    (Page::Keys, "Keys", "/console/keys"),
];

impl Page {
    /// The page at `path` (below `/console/`, without its leading slash); `None` is a 404.
    pub fn route(path: &str) -> Option<Page> {
        let path = path.strip_suffix('/').unwrap_or(path);
        Some(match path {
            "" => Page::Fleet,
            "signin" => Page::Signin,
            "jobs" => Page::Jobs,
            "models" => Page::Models,
            "playground" => Page::Playground,
            "usage" => Page::Usage,
            "keys" => Page::Keys,
            _ => {
                let id = path.strip_prefix("jobs/")?;
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                Page::Job(id.parse().ok()?)
            }
        })
    }

    /// The name of its skeleton and module.
    pub fn name(self) -> &'static str {
        match self {
            Page::Signin => "signin",
            Page::Fleet => "fleet",
            Page::Jobs => "jobs",
            Page::Job(_) => "job",
            Page::Models => "models",
            Page::Playground => "playground",
            Page::Usage => "usage",
            Page::Keys => "keys",
        }
    }

    fn title(self) -> String {
        match self {
            Page::Signin => "Sign in".into(),
            Page::Fleet => "Fleet".into(),
            Page::Jobs => "Queues and jobs".into(),
            Page::Job(id) => format!("Job {id}"),
            Page::Models => "Models and deployments".into(),
            Page::Playground => "Playground".into(),
            Page::Usage => "Usage and cost".into(),
            Page::Keys => "API keys".into(),
        }
    }

    /// The navigation entry it belongs under (a job's page is under Jobs).
    fn section(self) -> Page {
        match self {
            Page::Job(_) => Page::Jobs,
            p => p,
        }
    }

    fn skeleton(self) -> &'static str {
        match self {
            Page::Signin => include_str!("../pages/signin.html"),
            Page::Fleet => include_str!("../pages/fleet.html"),
            Page::Jobs => include_str!("../pages/jobs.html"),
            Page::Job(_) => include_str!("../pages/job.html"),
            Page::Models => include_str!("../pages/models.html"),
            Page::Playground => include_str!("../pages/playground.html"),
            Page::Usage => include_str!("../pages/usage.html"),
            Page::Keys => include_str!("../pages/keys.html"),
        }
    }

    /// Every page, for tests (a job page stands for all).
    pub const ALL: [Page; 8] =
        [Page::Signin, Page::Fleet, Page::Jobs, Page::Job(1), Page::Models, Page::Playground, Page::Usage, Page::Keys];
}

/// The navigation bar with `current`'s entry marked; none on the sign-in page.
fn nav(current: Option<Page>) -> String {
    if current == Some(Page::Signin) {
        return String::new();
    }
    let links: String = NAV
        .iter()
        .map(|(page, label, href)| {
            let here = if Some(*page) == current.map(Page::section) { r#" aria-current="page""# } else { "" };
            format!(r#"<a href="{href}"{here}>{label}</a>"#)
        })
        .collect();
    format!(
        r#"<nav class="nav" aria-label="Console">{links}</nav>
    <div class="who"><span id="who"></span><button type="button" id="signout" class="link">Sign out</button></div>"#
    )
}

fn shell(title: &str, page: &str, param: &str, nav: &str, main: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} · Strata</title>
  <link rel="icon" href="/console/assets/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/console/assets/console.css">
  <script type="module" src="/console/assets/js/app.js"></script>
</head>
<body data-page="{page}" data-param="{param}">
  <header class="top">
    <a class="brand" href="/console/"><img src="/console/assets/favicon.svg" alt="" width="22" height="22">Strata</a>
    {nav}
  </header>
  <main id="main">
    <noscript><p class="error">The console needs JavaScript: it reads everything from the API in the browser.</p></noscript>
{main}
  </main>
</body>
</html>
"#
    )
}

/// The page's full HTML. Nothing from the request reaches it but a job id, which is digits.
pub fn render(page: &Page) -> String {
    let param = match page {
        Page::Job(id) => id.to_string(),
        _ => String::new(),
    };
    shell(&page.title(), page.name(), &param, &nav(Some(*page)), page.skeleton())
}

pub fn render_not_found() -> String {
    let main = r#"<section class="panel"><h1>Not found</h1>
<p>There is no such page in the console. <a href="/console/">Go to the fleet.</a></p></section>"#;
    shell("Not found", "notfound", "", &nav(None), main)
}
