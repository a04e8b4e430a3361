//! The two log formats a k3s agent writes on stderr: logrus text for k3s's own lines
//! (`time="2026-12-01T08:00:00Z" level=info msg="…"`, sirupsen/logrus
//! `text_formatter.go`, no colours because stderr is not a terminal under systemd), and
//! klog for the lines of the kubelet it embeds (`E1201 08:00:00.000000    1234
//! kubelet_node_status.go:96] "Unable to register node with API server" err="…"`,
//! k8s.io/klog `klog.go` header + `ErrorS` key/values).

use std::io::Write as _;

/// logrus levels the agent uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `level=info`
    Info,
    /// `level=warning` (logrus spells it out)
    Warn,
    /// `level=error`
    Error,
    /// `level=fatal`
    Fatal,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warning",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }
}

/// Writes one logrus line for `msg` at `level` on stderr.
pub fn logrus(level: Level, msg: &str) {
    write_line(&logrus_line(jiff::Timestamp::now(), level, msg));
}

/// Writes one klog line (kubelet) on stderr: severity `I`/`E`, the kubelet source
/// location k3s would print, the message and key/value pairs.
pub fn klog(severity: char, location: &str, msg: &str, kv: &[(&str, &str)]) {
    write_line(&klog_line(
        jiff::Timestamp::now(),
        severity,
        std::process::id(),
        location,
        msg,
        kv,
    ));
}

fn write_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line.as_bytes());
    let _ = err.flush();
}

/// The logrus TextFormatter line (with its newline): `time` in RFC 3339 (seconds, UTC
/// here, so `Z`), `level`, `msg`; each value quoted Go-`%q` style when it holds a
/// character outside `[A-Za-z0-9-._/@^+]`.
pub fn logrus_line(now: jiff::Timestamp, level: Level, msg: &str) -> String {
    let time = now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut out = String::with_capacity(msg.len() + 64);
    out.push_str("time=");
    push_logrus_value(&mut out, &time);
    out.push_str(" level=");
    push_logrus_value(&mut out, level.as_str());
    if !msg.is_empty() {
        out.push_str(" msg=");
        push_logrus_value(&mut out, msg);
    }
    out.push('\n');
    out
}

fn push_logrus_value(out: &mut String, v: &str) {
    let plain = v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '/' | '@' | '^' | '+'));
    if plain {
        out.push_str(v);
    } else {
        out.push_str(&go_quote(v));
    }
}

/// The klog text header + structured message, as `klog.ErrorS`/`InfoS` print it:
/// `Lmmdd hh:mm:ss.uuuuuu <pid, width 7> file:line] "msg" k="v"…`.
pub fn klog_line(
    now: jiff::Timestamp,
    severity: char,
    pid: u32,
    location: &str,
    msg: &str,
    kv: &[(&str, &str)],
) -> String {
    let stamp = now.strftime("%m%d %H:%M:%S.%6f").to_string();
    let mut out = format!("{severity}{stamp} {pid:>7} {location}] {}", go_quote(msg));
    for (k, v) in kv {
        out.push(' ');
        out.push_str(k);
        out.push('=');
        out.push_str(&go_quote(v));
    }
    out.push('\n');
    out
}

/// Go's `strconv.Quote` (what `%q` prints for a string): `"` and `\` escaped, the
/// usual short escapes, other non-printable characters as `\x`, `\u` or `\U`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> jiff::Timestamp {
        "2026-12-01T08:00:00.123456Z".parse().unwrap()
    }

    #[test]
    fn logrus_lines_match_k3s_output() {
        assert_eq!(
            logrus_line(t(), Level::Info, "k3s agent is up and running"),
            "time=\"2026-12-01T08:00:00Z\" level=info msg=\"k3s agent is up and running\"\n"
        );
        // A plain message is not quoted, as logrus does.
        assert_eq!(
            logrus_line(t(), Level::Error, "plain"),
            "time=\"2026-12-01T08:00:00Z\" level=error msg=plain\n"
        );
        assert_eq!(
            logrus_line(t(), Level::Warn, "a"),
            "time=\"2026-12-01T08:00:00Z\" level=warning msg=a\n"
        );
        // k3s's "Waiting for %s to be available\n" keeps its newline inside the quotes.
        assert_eq!(
            logrus_line(t(), Level::Info, "Waiting for /run/t to be available\n"),
            "time=\"2026-12-01T08:00:00Z\" level=info msg=\"Waiting for /run/t to be available\\n\"\n"
        );
    }

    #[test]
    fn go_quote_escapes_like_strconv_quote() {
        assert_eq!(go_quote(r#"nodes "a" \ b"#), r#""nodes \"a\" \\ b""#);
        assert_eq!(go_quote("\u{1}\u{7f}é"), "\"\\x01\\x7fé\"");
        assert_eq!(go_quote("\u{85}"), "\"\\u0085\"");
    }

    #[test]
    fn klog_lines_have_the_kubelet_header() {
        assert_eq!(
            klog_line(
                t(),
                'E',
                42,
                "kubelet_node_status.go:96",
                "Unable to register node with API server",
                &[("err", "nodes \"n1\" is forbidden: x"), ("node", "n1")]
            ),
            "E1201 08:00:00.123456      42 kubelet_node_status.go:96] \"Unable to register node with API server\" err=\"nodes \\\"n1\\\" is forbidden: x\" node=\"n1\"\n"
        );
    }
}
