//! The guestbook page in a real browser: headless Chromium driven through ChromeDriver
//! (WebDriver, fantoccini) against the app binary on 127.0.0.1 with its own SQLite file.
//!
//! One browser session does the whole flow: the list and its "older" page, a rejected post (the
//! API's error shown in the page), a post through the form, the message after a reload, a
//! screenshot, and the browser's console: no errors and no CSP violations. The console check is
//! shown to work by injecting an inline `<script>` and a `style` attribute at the end and seeing
//! both violations reported. Last, the page against an app whose database never answers: the
//! API's 503 and its Retry-After are shown.
//!
//! The binaries come from `RDEPLOY_CHROME` / `RDEPLOY_CHROMEDRIVER` (`cargo xtask test` sets them
//! from its tool table), else `chromium` / `chromedriver` on PATH. Screenshots are written to
//! `target/xtask-test/artifacts/guestbook{,-posted,-503}.png` (the paths are printed).

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

mod common;

/// Chromium's flags for this kind of machine: headless, no sandbox (CI runs as root), and no
/// background traffic to Google's services (the network is closed; each attempt would be an
/// error in the log).
const CHROME_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    // No crash handler: it would run outside ChromeDriver's process group and outlive the test.
    "--disable-crash-reporter",
    "--disable-breakpad",
    "--disable-dev-shm-usage",
    "--window-size=1000,1100",
];

/// Messages created through the API before the page is opened: more than one page of 20.
const SEEDED: usize = 22;
/// How long any one wait for the page may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed (and reaped) when dropped, so a failing test leaves nothing behind.
struct Killed(Child);

/// ChromeDriver, started in a process group of its own, with the Chromium it starts inside it:
/// when dropped, the whole group is killed, so a test that fails before closing the session
/// leaves no browser running (Chromium outlives a killed ChromeDriver otherwise).
struct KilledGroup(Killed);

impl Drop for KilledGroup {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
    }
}

impl Killed {
    /// SIGTERM, then wait: the app drains and exits 0 (and, in a coverage run, writes its
    /// profile, which SIGKILL would lose).
    fn stop(mut self) -> Option<i32> {
        let pid = self.0.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().is_ok_and(|s| s.success());
        assert!(sent, "SIGTERM to {pid}");
        self.0.wait().ok().and_then(|s| s.code())
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `var` if set, else the first of `names` found on PATH; else the test fails with one line.
fn program(var: &str, names: &[&str], install: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(var).filter(|v| !v.is_empty()) {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    names
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{} not found: {install}, or set {var}", names[0]))
}

/// A child's environment: nothing from the host but PATH, and HOME in the test's directory.
fn clean(cmd: &mut Command, home: &Path) {
    cmd.env_clear().env("HOME", home);
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
}

/// Reads `child`'s stdout until `find` picks a value out of a line; the rest is drained in the
/// background so the child never blocks on a full pipe.
fn read_until<T>(child: &mut Child, what: &str, find: impl Fn(&str) -> Option<T>) -> T {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let found = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(v) = find(&line) {
                    break v;
                }
            }
            _ => panic!("the process exited before printing {what}"),
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    found
}

/// The app binary on 127.0.0.1 on an ephemeral port, with `database_url`.
fn start_app(database_url: &str, extra: &[(&str, &str)]) -> (Killed, String) {
    let mut cmd = common::app_command();
    cmd.env("BIND", "127.0.0.1")
        .env("PORT", "0")
        .env("LOG_FORMAT", "json")
        // No load balancer to drain from: SIGTERM stops it at once.
        .env("SHUTDOWN_DRAIN_SECS", "0")
        .env("DATABASE_URL", database_url)
        // The test seeds more messages than the write quota allows one client a minute.
        .env("WRITE_RATE_LIMIT_PER_MINUTE", "1000000")
        .env("WRITE_RATE_LIMIT_BURST", "1000000")
        .envs(extra.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = Killed(cmd.spawn().expect("the app binary starts"));
    let addr = read_until(&mut child.0, "its listening line", |line| {
        let v: Value = serde_json::from_str(line).ok()?;
        (v["fields"]["message"] == "listening").then(|| v["fields"]["addr"].as_str().unwrap().to_owned())
    });
    (child, format!("http://{addr}"))
}

/// ChromeDriver on 127.0.0.1, on a port it picks itself (`--port=0`) and prints.
fn start_chromedriver(driver: &Path, home: &Path) -> (KilledGroup, u16) {
    let mut cmd = Command::new(driver);
    cmd.process_group(0);
    cmd.args(["--port=0", "--allowed-ips=127.0.0.1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    clean(&mut cmd, home);
    let mut child =
        KilledGroup(Killed(cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", driver.display()))));
    let port = read_until(&mut child.0.0, "its port", |line| {
        line.strip_prefix("ChromeDriver was started successfully on port ")?.trim_end_matches('.').parse().ok()
    });
    (child, port)
}

/// ChromeDriver's `browser` log (the console, CSP reports included) since the last call.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (axum::http::Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

/// The console entries since the last call, as `LEVEL message` lines.
async fn console(browser: &Client) -> Vec<String> {
    let entries = browser.issue_cmd(BrowserLog).await.expect("chromedriver returns the browser log");
    entries
        .as_array()
        .expect("the log is a list")
        .iter()
        .map(|e| format!("{} {}", e["level"].as_str().unwrap_or("?"), e["message"].as_str().unwrap_or("?")))
        .collect()
}

/// Entries a clean page must not produce: errors of any source, and any CSP report.
fn problems(entries: &[String]) -> Vec<&String> {
    entries.iter().filter(|e| e.starts_with("SEVERE") || e.contains("Content Security Policy")).collect()
}

/// Waits until `script` (a JS expression) is truthy in the page.
async fn wait_until(browser: &Client, what: &str, script: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let v = browser.execute(&format!("return Boolean({script});"), vec![]).await.unwrap();
        if v == Value::Bool(true) {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            let log = console(browser).await;
            panic!("the page never showed {what} within {WAIT:?} ({script}); console: {log:#?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn eval(browser: &Client, script: &str) -> Value {
    browser.execute(script, vec![]).await.unwrap()
}

/// The messages the page lists, top to bottom, as (id, author, text).
async fn listed(browser: &Client) -> Vec<(i64, String, String)> {
    let v = eval(
        browser,
        "return [...document.querySelectorAll('#messages > li')].map(li => [Number(li.dataset.id), \
         li.querySelector('.message-author').textContent, li.querySelector('.message-text').textContent]);",
    )
    .await;
    serde_json::from_value(v).unwrap()
}

/// Saves a screenshot as `target/xtask-test/artifacts/<name>.png` and prints its path.
async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/xtask-test/artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, &png).unwrap();
    println!("screenshot: {}", path.canonicalize().unwrap().display());
}

#[tokio::test]
async fn the_guestbook_page_lists_posts_and_reloads_under_its_csp_with_a_clean_console() {
    let chrome =
        program("RDEPLOY_CHROME", &["chromium", "chromium-browser", "google-chrome"], "apt-get install chromium");
    let driver = program("RDEPLOY_CHROMEDRIVER", &["chromedriver"], "apt-get install chromium-driver");
    let dir = TempDir::new("browser");
    let profile = dir.0.join("chrome-profile");
    std::fs::create_dir_all(&profile).unwrap();

    let (app, base) = start_app(&format!("sqlite:{}", dir.0.join("guestbook.db").display()), &[]);
    let (chromedriver, port) = start_chromedriver(&driver, &dir.0);

    // Seed more than one page through the API: the page must show 20, then the rest on "older".
    let http = common::client();
    for i in 1..=SEEDED {
        let res = http
            .post(format!("{base}/api/messages"))
            .json(&json!({ "author": format!("Seed {i}"), "text": format!("Seeded message number {i}.") }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201, "seeding message {i}");
    }

    let mut args: Vec<String> = CHROME_FLAGS.iter().map(|f| (*f).to_owned()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": chrome, "args": args },
        "goog:loggingPrefs": { "browser": "ALL" },
    });
    let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps.as_object().unwrap().clone())
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("chromedriver opens a Chromium session");

    // 1. The page loads with its first page of messages, newest first, and "older" offered.
    browser.goto(&format!("{base}/guestbook")).await.unwrap();
    assert_eq!(browser.title().await.unwrap(), "Guestbook · rdeploy");
    wait_until(&browser, "the first page of messages", "document.querySelectorAll('#messages > li').length > 0").await;
    let first = listed(&browser).await;
    assert_eq!(first.len(), 20, "one page of 20");
    assert_eq!(first[0].1, format!("Seed {SEEDED}"), "newest first");
    assert!(first.windows(2).all(|w| w[0].0 > w[1].0), "ids descending: {first:?}");
    assert_eq!(eval(&browser, "return document.getElementById('older').hidden;").await, false);
    browser.find(Locator::Id("older")).await.unwrap().click().await.unwrap();
    wait_until(
        &browser,
        "the older messages",
        &format!("document.querySelectorAll('#messages > li').length === {SEEDED}"),
    )
    .await;
    wait_until(&browser, "no more pages", "document.getElementById('older').hidden").await;
    let all = listed(&browser).await;
    assert!(all.windows(2).all(|w| w[0].0 > w[1].0), "still descending after the older page: {all:?}");
    assert_eq!(all.last().unwrap().1, "Seed 1");
    // Every message, its author and its text are bidi-isolated (guestbook.css), as rendered.
    let isolated = "return [...document.querySelectorAll('#messages > li, #messages .message-author, #messages .message-text')]\
                    .map(e => getComputedStyle(e).unicodeBidi);";
    let isolated = eval(&browser, isolated).await;
    let isolated = isolated.as_array().unwrap();
    assert_eq!(isolated.len(), 3 * SEEDED, "{isolated:?}");
    assert!(isolated.iter().all(|v| v == "isolate"), "{isolated:?}");
    // The document the browser built has no inline code either.
    let inline = "return document.querySelectorAll('script:not([src]), style, [style]').length + \
                  [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length;";
    assert_eq!(eval(&browser, inline).await, json!(0));
    let clean_load = console(&browser).await;
    assert_eq!(problems(&clean_load), Vec::<&String>::new(), "loading the page: {clean_load:#?}");

    // 2. A post the API rejects (a name of spaces passes the form's `required`, not the API's
    //    trim): the API's message is shown in the page and nothing is added.
    let author = browser.find(Locator::Id("author")).await.unwrap();
    let text = browser.find(Locator::Id("text")).await.unwrap();
    author.send_keys("   ").await.unwrap();
    text.send_keys("This one is refused.").await.unwrap();
    browser.find(Locator::Id("submit")).await.unwrap().click().await.unwrap();
    wait_until(&browser, "the API's error", "!document.getElementById('form-error').hidden").await;
    let shown = eval(&browser, "return document.getElementById('form-error').textContent;").await;
    let shown = shown.as_str().unwrap();
    // The API's own message for the same input, shown as a sentence, with the request's id.
    let api: Value = http
        .post(format!("{base}/api/messages"))
        .json(&json!({ "author": "   ", "text": "This one is refused." }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let said = api["error"]["message"].as_str().unwrap();
    let sentence = format!("{}{}.", said[..1].to_uppercase(), &said[1..]);
    assert!(shown.starts_with(&format!("{sentence}Request id: ")), "{shown:?} shows {sentence:?} and its request id");
    assert_eq!(listed(&browser).await.len(), SEEDED);
    // The browser itself reports the 422 response as a failed resource load; nothing else.
    let rejected = console(&browser).await;
    assert!(
        problems(&rejected).iter().all(|e| e.contains("/api/messages") && e.contains("422")),
        "only the rejected request is reported: {rejected:#?}"
    );

    // 3. A post through the form: shown at the top at once, the form's status says so, and the
    //    text is rendered as text (markup in a message stays characters).
    let message = "Hello from headless Chromium! <b>not bold</b>\nSecond line.";
    assert_eq!(eval(&browser, "return document.getElementById('text').value;").await, "This one is refused.", "kept");
    author.clear().await.unwrap();
    author.send_keys("Ada").await.unwrap();
    text.clear().await.unwrap();
    text.send_keys(message).await.unwrap();
    browser.find(Locator::Id("submit")).await.unwrap().click().await.unwrap();
    wait_until(&browser, "the posted message", "document.querySelector('#messages > li.new') !== null").await;
    assert_eq!(eval(&browser, "return document.getElementById('form-error').hidden;").await, true);
    assert_eq!(
        eval(&browser, "return document.getElementById('form-status').textContent;").await,
        "Your message was posted."
    );
    assert_eq!(eval(&browser, "return document.getElementById('text').value;").await, "", "the text is cleared");
    screenshot(&browser, "guestbook-posted").await;
    let top = listed(&browser).await.remove(0);
    assert_eq!((top.1.as_str(), top.2.as_str()), ("Ada", message));
    assert!(top.0 > all[0].0, "the new message has the highest id");

    // 4. After a reload it comes from the database, still first, still plain text.
    browser.refresh().await.unwrap();
    wait_until(&browser, "the list after the reload", "document.querySelectorAll('#messages > li').length === 20")
        .await;
    let reloaded = listed(&browser).await;
    assert_eq!(reloaded[0], top, "the posted message, read back from the API");
    assert_eq!(eval(&browser, "return document.querySelectorAll('#messages b').length;").await, json!(0));

    // 5. Screenshots for the reviewer: the page after the reload (the form is empty again).
    screenshot(&browser, "guestbook").await;

    // 6. The console after posting and reloading: no errors, no CSP reports.
    let after = console(&browser).await;
    assert_eq!(problems(&after), Vec::<&String>::new(), "after posting and reloading: {after:#?}");

    // 7. The check above can fail: inline code injected now is blocked by the page's CSP, and the
    //    violations reach the log this test reads.
    eval(
        &browser,
        "const s = document.createElement('script'); s.textContent = 'window.injected = true;'; \
         document.head.append(s); document.querySelector('h1').setAttribute('style', 'color: red'); return null;",
    )
    .await;
    assert_eq!(eval(&browser, "return window.injected === undefined;").await, true, "the inline script did not run");
    // Everything the browser logged since step 6, filtered by the same check as above.
    let mut reported = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while problems(&reported).len() < 2 && tokio::time::Instant::now() < deadline {
        reported.extend(console(&browser).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let caught = problems(&reported);
    assert!(caught.iter().any(|e| e.contains("script-src 'self'")), "the inline script is caught: {reported:#?}");
    assert!(caught.iter().any(|e| e.contains("style-src 'self'")), "the style attribute is caught: {reported:#?}");

    // 8. The same page on an app whose database does not answer (a listener that never speaks):
    //    the list and a post show the API's 503 with its Retry-After.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let db_port = silent.local_addr().unwrap().port();
    let (down, down_base) = start_app(
        &format!("postgres://guest@127.0.0.1:{db_port}/guestbook?sslmode=disable"),
        &[("DB_ACQUIRE_TIMEOUT_SECS", "1")],
    );
    browser.goto(&format!("{down_base}/guestbook")).await.unwrap();
    wait_until(&browser, "the list's 503", "!document.getElementById('list-error').hidden").await;
    let shown = eval(&browser, "return document.getElementById('list-error').textContent;").await;
    assert!(shown.as_str().unwrap().contains(" Try again in "), "Retry-After shown: {shown}");
    browser.find(Locator::Id("author")).await.unwrap().send_keys("Bob").await.unwrap();
    browser.find(Locator::Id("text")).await.unwrap().send_keys("Is anyone there?").await.unwrap();
    browser.find(Locator::Id("submit")).await.unwrap().click().await.unwrap();
    wait_until(&browser, "the post's 503", "!document.getElementById('form-error').hidden").await;
    let shown = eval(&browser, "return document.getElementById('form-error').textContent;").await;
    assert!(shown.as_str().unwrap().contains(" Try again in "), "Retry-After shown: {shown}");
    assert_eq!(eval(&browser, "return document.getElementById('text').value;").await, "Is anyone there?", "kept");
    screenshot(&browser, "guestbook-503").await;
    let unavailable = console(&browser).await;
    assert!(
        problems(&unavailable).iter().all(|e| e.contains("/api/messages") && e.contains("503")),
        "only the two 503 answers are reported: {unavailable:#?}"
    );
    drop(silent);

    browser.close().await.unwrap();
    drop(chromedriver);
    assert_eq!(down.stop(), Some(0), "the second app drains and exits 0 on SIGTERM");
    assert_eq!(app.stop(), Some(0), "the app drains and exits 0 on SIGTERM");
}
