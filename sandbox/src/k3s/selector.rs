//! Label selectors (`k8s.io/apimachinery/pkg/labels/selector.go` syntax: `k=v`, `k==v`,
//! `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, comma = and), `metav1.LabelSelector`
//! objects (`matchLabels`, `matchExpressions` In/NotIn/Exists/DoesNotExist), and field
//! selectors (`f=v`, `f==v`, `f!=v`).

use std::collections::BTreeMap;

use serde_json::Value;

/// One requirement.
#[derive(Debug, Clone, PartialEq)]
pub enum Req {
    /// `k in (values)` (also `k=v`).
    In(String, Vec<String>),
    /// `k notin (values)` (also `k!=v`): true when the key is absent too.
    NotIn(String, Vec<String>),
    /// `k`.
    Exists(String),
    /// `!k`.
    DoesNotExist(String),
}

/// A parsed label selector; empty matches everything.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LabelSelector(pub Vec<Req>);

impl LabelSelector {
    /// Parses the query-string form; errors are the apiserver's 400 message text.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        let chars: Vec<char> = s.chars().collect();
        let mut i = 0;
        let skip_ws = |i: &mut usize| {
            while *i < chars.len() && chars[*i].is_whitespace() {
                *i += 1;
            }
        };
        loop {
            skip_ws(&mut i);
            if i >= chars.len() {
                break;
            }
            let negate = chars[i] == '!';
            if negate {
                i += 1;
                skip_ws(&mut i);
            }
            let start = i;
            while i < chars.len() && !matches!(chars[i], '=' | '!' | ',' | '(' | ')' | ' ' | '\t') {
                i += 1;
            }
            let key: String = chars[start..i].iter().collect();
            if key.is_empty() {
                return Err(format!(
                    "unable to parse requirement: found '{}', expected: identifier",
                    rest(&chars, i)
                ));
            }
            validate_key(&key)?;
            skip_ws(&mut i);
            if negate {
                reqs.push(Req::DoesNotExist(key));
            } else if i >= chars.len() || chars[i] == ',' {
                reqs.push(Req::Exists(key));
            } else if chars[i] == '=' || chars[i] == '!' {
                let neg = chars[i] == '!';
                i += 1;
                if i < chars.len() && chars[i] == '=' {
                    i += 1;
                } else if neg {
                    return Err(
                        "unable to parse requirement: found '!', expected: '=', '!=', '==', 'in', notin'"
                            .to_string(),
                    );
                }
                skip_ws(&mut i);
                let vs = i;
                while i < chars.len() && !matches!(chars[i], ',' | ' ' | '\t' | '(' | ')') {
                    i += 1;
                }
                let value: String = chars[vs..i].iter().collect();
                validate_value(&value)?;
                reqs.push(if neg {
                    Req::NotIn(key, vec![value])
                } else {
                    Req::In(key, vec![value])
                });
            } else {
                let ws = i;
                while i < chars.len() && chars[i].is_ascii_alphabetic() {
                    i += 1;
                }
                let op: String = chars[ws..i].iter().collect();
                if op != "in" && op != "notin" {
                    return Err(format!(
                        "unable to parse requirement: found '{op}', expected: in, notin, =, ==, !=, gt, lt"
                    ));
                }
                skip_ws(&mut i);
                if i >= chars.len() || chars[i] != '(' {
                    return Err("unable to parse requirement: found '', expected: '('".into());
                }
                i += 1;
                let vs = i;
                while i < chars.len() && chars[i] != ')' {
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(
                        "unable to parse requirement: found '', expected: ',', ')' or identifier"
                            .into(),
                    );
                }
                let list: String = chars[vs..i].iter().collect();
                i += 1;
                let values: Vec<String> = list.split(',').map(|v| v.trim().to_owned()).collect();
                for v in &values {
                    validate_value(v)?;
                }
                reqs.push(if op == "in" {
                    Req::In(key, values)
                } else {
                    Req::NotIn(key, values)
                });
            }
            skip_ws(&mut i);
            if i < chars.len() {
                if chars[i] != ',' {
                    return Err(format!(
                        "found '{}', expected: ',' or 'end of string'",
                        chars[i]
                    ));
                }
                i += 1;
            }
        }
        Ok(Self(reqs))
    }

    /// From a `metav1.LabelSelector` JSON object; errors name the field.
    pub fn from_object(v: &Value) -> Result<Self, String> {
        let mut reqs = Vec::new();
        if let Some(ml) = v.get("matchLabels").and_then(Value::as_object) {
            for (k, val) in ml {
                reqs.push(Req::In(
                    k.clone(),
                    vec![val.as_str().unwrap_or_default().to_owned()],
                ));
            }
        }
        if let Some(me) = v.get("matchExpressions").and_then(Value::as_array) {
            for e in me {
                let key = e
                    .get("key")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let values: Vec<String> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                let op = e
                    .get("operator")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                reqs.push(match op {
                    "In" => Req::In(key, values),
                    "NotIn" => Req::NotIn(key, values),
                    "Exists" => Req::Exists(key),
                    "DoesNotExist" => Req::DoesNotExist(key),
                    other => {
                        return Err(format!(
                            "\"{other}\" is not a valid label selector operator"
                        ));
                    }
                });
            }
        }
        Ok(Self(reqs))
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: Option<&serde_json::Map<String, Value>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Req::In(k, vs) => get(k).is_some_and(|v| vs.iter().any(|x| x == v)),
            Req::NotIn(k, vs) => get(k).is_none_or(|v| !vs.iter().any(|x| x == v)),
            Req::Exists(k) => get(k).is_some(),
            Req::DoesNotExist(k) => get(k).is_none(),
        })
    }
}

fn rest(chars: &[char], i: usize) -> String {
    chars.get(i).map(|c| c.to_string()).unwrap_or_default()
}

fn validate_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    let prefix_ok = prefix.is_none_or(|p| !p.is_empty() && p.len() <= 253 && is_dns_subdomain(p));
    if name_ok && prefix_ok {
        Ok(())
    } else {
        Err(format!(
            "unable to parse requirement: <nil>: Invalid value: \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        ))
    }
}

fn validate_value(v: &str) -> Result<(), String> {
    let ok = v.is_empty()
        || (v.len() <= 63
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && v.starts_with(|c: char| c.is_ascii_alphanumeric())
            && v.ends_with(|c: char| c.is_ascii_alphanumeric()));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "unable to parse requirement: values[0]: Invalid value: \"{v}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        ))
    }
}

/// Whether `s` is a lowercase RFC 1123 subdomain.
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label_part)
}

/// Whether `s` is a lowercase RFC 1123 label (≤ 63).
pub fn is_dns_label(s: &str) -> bool {
    s.len() <= 63 && is_dns_label_part(s)
}

fn is_dns_label_part(p: &str) -> bool {
    !p.is_empty()
        && p.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !p.starts_with('-')
        && !p.ends_with('-')
}

/// A field selector: `(field, value, equal)` terms, all of which must hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldSelector(pub Vec<(String, String, bool)>);

impl FieldSelector {
    /// Parses `f=v,f2!=v2`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut terms = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (f, v, eq) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, v, true)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, v, true)
            } else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                ));
            };
            terms.push((f.trim().to_owned(), v.trim().to_owned(), eq));
        }
        Ok(Self(terms))
    }

    /// Checks that every field is one of `supported` (the apiserver's 400 otherwise).
    pub fn check(&self, supported: &[&str]) -> Result<(), String> {
        for (f, _, _) in &self.0 {
            if !supported.contains(&f.as_str()) {
                return Err(format!("field label not supported: {f}"));
            }
        }
        Ok(())
    }

    /// Whether the object's field values satisfy every term.
    pub fn matches(&self, fields: &BTreeMap<&str, String>) -> bool {
        self.0.iter().all(|(f, v, eq)| {
            let have = fields.get(f.as_str()).map(String::as_str).unwrap_or("");
            (have == v) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn label_selector_syntax() {
        let l = labels(json!({"a": "1", "b": "x", "k8s-daas.io/revoked-nodes": "true"}));
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(Some(&l));
        assert!(m(""));
        assert!(m("a=1"));
        assert!(m("a==1"));
        assert!(!m("a=2"));
        assert!(m("a!=2"));
        assert!(m("c!=2"), "notin matches an absent key");
        assert!(m("a in (1, 2)"));
        assert!(!m("a notin (1,2)"));
        assert!(m("b notin (y)"));
        assert!(m("a"));
        assert!(!m("c"));
        assert!(m("!c"));
        assert!(!m("!a"));
        assert!(m("k8s-daas.io/revoked-nodes=true,a=1"));
        assert!(!m("k8s-daas.io/revoked-nodes=true,a=2"));
        assert!(!LabelSelector::parse("a=1").unwrap().matches(None));
        assert!(LabelSelector::parse("a in 1").is_err());
        assert!(LabelSelector::parse("a=1 b=2").is_err());
        assert!(LabelSelector::parse("a=b c").is_err());
        assert!(LabelSelector::parse("=x").is_err());
    }

    #[test]
    fn label_selector_objects() {
        let s = LabelSelector::from_object(&json!({
            "matchLabels": {"k8s-daas.io/revoked-nodes": "true"},
            "matchExpressions": [{"key": "shard", "operator": "Exists"}]
        }))
        .unwrap();
        assert!(s.matches(Some(&labels(
            json!({"k8s-daas.io/revoked-nodes": "true", "shard": "0"})
        ))));
        assert!(!s.matches(Some(&labels(json!({"k8s-daas.io/revoked-nodes": "true"})))));
        assert!(
            LabelSelector::from_object(
                &json!({"matchExpressions": [{"key": "a", "operator": "Gt"}]})
            )
            .is_err()
        );
    }

    #[test]
    fn field_selectors() {
        let f =
            FieldSelector::parse("type=bootstrap.kubernetes.io/token,metadata.name!=x").unwrap();
        let mut fields = BTreeMap::new();
        fields.insert("type", "bootstrap.kubernetes.io/token".to_owned());
        fields.insert("metadata.name", "y".to_owned());
        assert!(f.matches(&fields));
        fields.insert("metadata.name", "x".to_owned());
        assert!(!f.matches(&fields));
        assert_eq!(
            f.check(&["type"]),
            Err("field label not supported: metadata.name".into())
        );
        assert!(FieldSelector::parse("nonsense").is_err());
    }

    #[test]
    fn dns_names() {
        assert!(is_dns_subdomain("rpi-0123456789abcdef.node-password.k3s"));
        assert!(!is_dns_subdomain("Upper"));
        assert!(is_dns_label("kube-system"));
        assert!(!is_dns_label("a.b"));
    }
}
