//! The fleet dashboard the master serves at `/`: one HTML page, rendered on the server
//! from the same [`WorkersView`] as `/api/workers`, with no script and no external
//! asset (styles inline), refreshing itself every [`REFRESH_S`] seconds. A row per
//! worker — node_id, owner, status, token version, k3s Node state, last change — and
//! the count of workers in each status. Every value is HTML-escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::http::WorkersView;

/// Seconds between the page's reloads (`<meta http-equiv="refresh">`).
pub const REFRESH_S: u32 = 5;

/// `s` with `& < > " '` escaped, for text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// How a missing value shows.
pub const NONE: &str = "—";

/// The cells of one worker's row, in the table's order; what a browser test compares
/// with `/api/workers`.
pub fn cells(w: &crate::http::WorkerView) -> [String; 6] {
    [
        w.node_id.clone(),
        w.owner.clone().unwrap_or_else(|| NONE.into()),
        w.chain_status.clone().unwrap_or_else(|| NONE.into()),
        w.token_version.to_string(),
        w.node.clone().unwrap_or_else(|| NONE.into()),
        crate::k8s::rfc3339(w.updated_ms),
    ]
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.3em;margin:0 0 .3em}p.meta{color:#666;margin:0 0 1em}\
ul.counts{list-style:none;padding:0;display:flex;gap:.6em;flex-wrap:wrap}\
ul.counts li{border:1px solid #ccc;border-radius:4px;padding:.2em .6em}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3em .6em;\
border-bottom:1px solid #eee;font-variant-numeric:tabular-nums}th{background:#f6f6f6}\
td.mono{font-family:ui-monospace,monospace;font-size:.9em}\
tr.active td:nth-child(3){color:#176f2c}tr.slashed td:nth-child(3),\
tr.revoked td:nth-child(3){color:#a11}";

/// The page.
pub fn render(view: &WorkersView, role: &str, now_ms: u64) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for w in &view.workers {
        *counts
            .entry(w.chain_status.as_deref().unwrap_or("unread"))
            .or_default() += 1;
    }
    let mut h = String::with_capacity(1024 + view.workers.len() * 400);
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"refresh\" content=\"{REFRESH_S}\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>k8s-daas fleet</title><style>{STYLE}</style></head><body>\n\
<h1>k8s-daas fleet</h1>\n<p class=\"meta\">this master: <b id=\"role\">{role}</b> · \
<span id=\"count\">{count}</span> workers · rendered {now} · reloads every {REFRESH_S} s · \
<a href=\"/api/workers\">/api/workers</a></p>\n<ul class=\"counts\">",
        role = escape(role),
        count = view.count,
        now = crate::k8s::rfc3339(now_ms),
    );
    for (status, n) in &counts {
        let _ = write!(
            h,
            "<li data-status=\"{s}\"><b>{n}</b> {s}</li>",
            s = escape(status)
        );
    }
    h.push_str(
        "</ul>\n<table id=\"workers\"><thead><tr><th>node</th><th>owner</th><th>status</th>\
<th>token version</th><th>k3s node</th><th>last change</th></tr></thead><tbody>\n",
    );
    for w in &view.workers {
        let c = cells(w);
        let _ = write!(
            h,
            "<tr data-worker-id=\"{id}\" class=\"{class}\" title=\"{title}\">",
            id = escape(&w.worker_id),
            class = escape(w.chain_status.as_deref().unwrap_or("unread")),
            title = escape(&format!(
                "stage {}{}",
                w.stage,
                w.note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            )),
        );
        for (i, cell) in c.iter().enumerate() {
            let mono = if i == 0 || i == 1 {
                " class=\"mono\""
            } else {
                ""
            };
            let _ = write!(h, "<td{mono}>{}</td>", escape(cell));
        }
        h.push_str("</tr>\n");
    }
    if view.workers.is_empty() {
        h.push_str("<tr><td colspan=\"6\">no workers yet</td></tr>\n");
    }
    h.push_str("</tbody></table>\n</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::WorkerView;

    fn view(node: &str, status: Option<&str>, note: Option<&str>) -> WorkerView {
        WorkerView {
            worker_id: "0x77".into(),
            node_id: node.into(),
            stage: "issued".into(),
            chain_status: status.map(str::to_string),
            token_version: 1,
            issued_version: Some(1),
            token_id: Some("abc123".into()),
            expires_at_ms: None,
            reissued: 0,
            rotation: false,
            note: note.map(str::to_string),
            first_seen_ms: 0,
            updated_ms: 1_767_225_600_000,
            owner: Some("0x01".into()),
            node: Some("Ready".into()),
        }
    }

    #[test]
    fn a_row_per_worker_counts_by_status_and_nothing_unescaped() {
        let v = WorkersView {
            count: 2,
            workers: vec![
                view("rpi-0123456789abcdef", Some("active"), None),
                view("x<script>", None, Some("a \"quoted\" <note> & more")),
            ],
        };
        let h = render(&v, "leader", 0);
        assert!(h.starts_with("<!doctype html>"));
        assert!(h.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
        assert_eq!(h.matches("<tr data-worker-id=").count(), 2);
        assert!(h.contains("<td class=\"mono\">rpi-0123456789abcdef</td><td class=\"mono\">0x01</td><td>active</td><td>1</td><td>Ready</td><td>2026-01-01T00:00:00Z</td>"), "{h}");
        assert!(h.contains("<li data-status=\"active\"><b>1</b> active</li>"));
        assert!(h.contains("<li data-status=\"unread\"><b>1</b> unread</li>"));
        assert!(!h.contains("<script>") && h.contains("x&lt;script&gt;"));
        assert!(h.contains("title=\"stage issued: a &quot;quoted&quot; &lt;note&gt; &amp; more\""));
        // Nothing loaded from elsewhere.
        assert!(!h.contains("src=") && !h.contains("http://") && !h.contains("https://"));
        assert!(
            render(
                &WorkersView {
                    count: 0,
                    workers: vec![]
                },
                "standby",
                0
            )
            .contains("no workers yet")
        );
    }
}
