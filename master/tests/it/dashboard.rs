//! The fleet dashboard (`/`) in a real browser: Debian's Chromium, headless, loads the
//! page during an end-to-end run, and every row it rendered must equal the worker
//! `/api/workers` shows.

use std::time::Duration;

use daas_master::dashboard;
use daas_protocol::config::TransportKind;
use daas_protocol::onchain::WorkerStatus;
use daas_sandbox::testbin;

use crate::world::{MINUTE, World, eventually};

/// The page as Chromium rendered it (`--dump-dom`), from a fresh profile.
async fn dump_dom(chromium: &std::path::Path, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = tokio::time::timeout(
        Duration::from_secs(90),
        tokio::process::Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("--dump-dom")
            .arg(url)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("chromium answers within 90 s")
    .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The rendered table: (worker id, cells) per `<tr data-worker-id=…>`.
fn rows(dom: &str) -> Vec<(String, Vec<String>)> {
    dom.split("<tr data-worker-id=\"")
        .skip(1)
        .map(|chunk| {
            let (id, rest) = chunk.split_once('"').unwrap();
            let row = rest.split("</tr>").next().unwrap();
            let cells = row
                .split("<td")
                .skip(1)
                .map(|c| {
                    let (_, text) = c.split_once('>').unwrap();
                    unescape(text.split("</td>").next().unwrap())
                })
                .collect();
            (id.to_string(), cells)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_in_a_real_browser_shows_every_worker_as_the_api_does() {
    let Some(chromium) = testbin::require_tool("chromium", "the dashboard's browser test") else {
        return;
    };
    let mut w = World::new(TransportKind::Jsonrpc).await;
    w.start_master(None).await;
    let devices = [
        w.device(0, "dash-a"),
        w.device(1, "dash-b"),
        w.device(0, "dash-c"),
    ];
    w.register(&devices).await;
    w.join_device(devices[0]).await;
    w.wait_status(devices[0], WorkerStatus::Active, MINUTE)
        .await;
    for &d in &devices[1..] {
        w.wait_status(d, WorkerStatus::TokenIssued, MINUTE).await;
    }
    // At rest: one Ready Node, its worker active, the others issued.
    let api = eventually(MINUTE, "the master at rest", || async {
        let v = w.api_workers().await;
        let settled = v.workers.len() == 3
            && v.workers
                .iter()
                .all(|x| matches!(x.stage.as_str(), "active" | "issued"))
            && v.workers.iter().any(|x| x.node.as_deref() == Some("Ready"));
        settled.then_some(v)
    })
    .await;

    let dom = dump_dom(&chromium, &format!("http://{}/", w.http)).await;
    let after = w.api_workers().await;
    assert_eq!(api, after, "the view changed while the page loaded");
    assert!(
        dom.contains(&format!(
            "http-equiv=\"refresh\" content=\"{}\"",
            dashboard::REFRESH_S
        )),
        "{dom}"
    );
    let shown = rows(&dom);
    assert_eq!(shown.len(), api.workers.len(), "{dom}");
    for (x, (id, cells)) in api.workers.iter().zip(&shown) {
        assert_eq!(id, &x.worker_id);
        assert_eq!(cells, &dashboard::cells(x).to_vec(), "row of {}", x.node_id);
    }
    let active = api.workers.iter().find(|x| x.stage == "active").unwrap();
    assert_eq!(active.node.as_deref(), Some("Ready"));
    assert_eq!(active.chain_status.as_deref(), Some("active"));
    assert!(active.owner.as_deref().is_some_and(|o| o.starts_with("0x")));
    assert!(
        dom.contains("<li data-status=\"active\"><b>1</b> active</li>"),
        "{dom}"
    );
    assert!(
        dom.contains("<li data-status=\"token_issued\"><b>2</b> token_issued</li>"),
        "{dom}"
    );
}
