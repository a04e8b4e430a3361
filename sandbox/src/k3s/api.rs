//! The Kubernetes API: discovery, get / list / watch / create / update / patch / delete
//! over [`RESOURCES`], with the apiserver's metadata handling (uid, creationTimestamp,
//! resourceVersion, generation), its conflict and validation errors, admission, and the
//! node authorizer's restrictions on node identities.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};

use super::admission::{self, Attributes};
use super::auth::User;
use super::objects::{EventType, Key, Store};
use super::resources::{self, NAMESPACES, NODES, RESOURCES, Resource};
use super::selector::{FieldSelector, LabelSelector};
use super::server::{Body, Shared, json_response, status_response};
use super::status::ApiError;

/// The version the stand-in reports at `/version` (the k8s-openapi shapes it serves).
pub const KUBE_VERSION: (&str, &str) = ("1", "33");

/// Namespaces that exist from the start, as on a k3s server.
pub const SYSTEM_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

/// Now, RFC 3339 with seconds (`metav1.Time`).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A random UUID v4 (`metadata.uid`).
pub fn new_uid() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the operating system provides random bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn generate_name_suffix() -> String {
    // k8s.io/apiserver/pkg/storage/names: 5 characters from this alphabet.
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut b = [0u8; 5];
    getrandom::fill(&mut b).expect("the operating system provides random bytes");
    b.iter()
        .map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char)
        .collect()
}

/// One parsed API request path.
#[derive(Debug)]
struct Target {
    res: usize,
    ns: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

/// What an identity may do, as far as the stand-in models authorization: `system:masters`
/// anything; node identities what the Node authorizer and NodeRestriction allow them on
/// Nodes and their own Lease (read nodes, write only their own Node and Lease); bootstrap
/// tokens nothing (k3s's bootstrap RBAC lets them create CSRs, which are not modelled);
/// any other authenticated identity anything (RBAC is not enforced).
fn authorize(user: &User, verb: &str, r: &Resource, ns: &str, name: &str) -> Result<(), ApiError> {
    let deny = |why: String| {
        let gr = super::status::group_resource(r.group, r.plural);
        let scope = if ns.is_empty() {
            "at the cluster scope".to_owned()
        } else {
            format!("in the namespace \"{ns}\"")
        };
        let subject = if name.is_empty() {
            gr.clone()
        } else {
            format!("{gr} \"{name}\"")
        };
        Err(ApiError::forbidden_message(
            format!(
                "{subject} is forbidden: User \"{}\" cannot {verb} resource \"{}\" in API group \"{}\" {scope}{why}",
                user.name, r.plural, r.group
            ),
            Some(json!({ "name": name, "kind": r.plural, "group": r.group })),
        ))
    };
    if user.in_group("system:masters") {
        return Ok(());
    }
    if user.in_group("system:bootstrappers") {
        return deny(String::new());
    }
    if let Some(node) = user.node_name() {
        let read = matches!(verb, "get" | "list" | "watch");
        let own = name == node;
        return match r.kind {
            // a node reads every Node and creates or writes only its own
            "Node" if read || own => Ok(()),
            "Lease" if ns == "kube-node-lease" && (read || own) => Ok(()),
            "Namespace" if read => Ok(()),
            "Node" => Err(ApiError::forbidden(
                r.group,
                r.plural,
                name,
                &format!("node \"{node}\" is not allowed to modify node \"{name}\""),
            )),
            _ => deny(": can only access its own node and lease".into()),
        };
    }
    Ok(())
}

fn parse_target(path: &str) -> Result<Option<Target>, ApiError> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", "v1", rest @ ..] if !rest.is_empty() => ("", "v1", rest),
        ["apis", g, v, rest @ ..] if !rest.is_empty() => (*g, *v, rest),
        _ => return Ok(None),
    };
    let unmodelled = |plural: &str| {
        ApiError::no_route(format!(
            "daas-k3s does not model {}/{version} {plural}",
            if group.is_empty() { "core" } else { group }
        ))
    };
    let find =
        |plural: &str| resources::find(group, version, plural).ok_or_else(|| unmodelled(plural));
    let t = match rest {
        [plural] => Target {
            res: find(plural)?,
            ns: None,
            name: None,
            sub: None,
        },
        ["namespaces", ns, plural]
            if group.is_empty()
                && resources::find("", "v1", plural).is_none_or(|i| RESOURCES[i].namespaced)
                && *plural != "status"
                && *plural != "finalize" =>
        {
            Target {
                res: find(plural)?,
                ns: Some((*ns).to_owned()),
                name: None,
                sub: None,
            }
        }
        ["namespaces", ns, plural] if !group.is_empty() => Target {
            res: find(plural)?,
            ns: Some((*ns).to_owned()),
            name: None,
            sub: None,
        },
        [plural, name] => Target {
            res: find(plural)?,
            ns: None,
            name: Some((*name).to_owned()),
            sub: None,
        },
        [plural, name, sub] => Target {
            res: find(plural)?,
            ns: None,
            name: Some((*name).to_owned()),
            sub: Some((*sub).to_owned()),
        },
        ["namespaces", ns, plural, name] => Target {
            res: find(plural)?,
            ns: Some((*ns).to_owned()),
            name: Some((*name).to_owned()),
            sub: None,
        },
        ["namespaces", ns, plural, name, sub] => Target {
            res: find(plural)?,
            ns: Some((*ns).to_owned()),
            name: Some((*name).to_owned()),
            sub: Some((*sub).to_owned()),
        },
        _ => return Err(ApiError::no_route(format!("no route for {path}"))),
    };
    let r = &RESOURCES[t.res];
    if r.namespaced != t.ns.is_some() && !(r.namespaced && t.name.is_none()) {
        return Err(ApiError::no_route(format!(
            "{} is {}",
            r.plural,
            if r.namespaced {
                "namespaced"
            } else {
                "cluster-scoped"
            }
        )));
    }
    if let Some(sub) = &t.sub
        && !(sub == "status" && r.status)
    {
        return Err(ApiError::no_route(format!(
            "daas-k3s does not model the {}/{sub} subresource",
            r.plural
        )));
    }
    Ok(Some(t))
}

/// Query parameters.
pub type Query = HashMap<String, String>;

/// Parses a query string (percent-decoded).
pub fn parse_query(q: Option<&str>) -> Query {
    let mut out = HashMap::new();
    for pair in q.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(percent_decode(k), percent_decode(v));
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The discovery documents and `/version`; `None` when `path` is not one.
pub fn discovery(path: &str, host: &str) -> Option<Value> {
    let groups: Vec<&str> = {
        let mut g: Vec<&str> = RESOURCES
            .iter()
            .map(|r| r.group)
            .filter(|g| !g.is_empty())
            .collect();
        g.dedup();
        g
    };
    let group_doc = |g: &str| {
        json!({
            "name": g,
            "versions": [{ "groupVersion": format!("{g}/v1"), "version": "v1" }],
            "preferredVersion": { "groupVersion": format!("{g}/v1"), "version": "v1" },
        })
    };
    let list = |g: &str| {
        let resources: Vec<Value> = RESOURCES
            .iter()
            .filter(|r| r.group == g)
            .flat_map(Resource::discovery)
            .collect();
        json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": if g.is_empty() { "v1".to_owned() } else { format!("{g}/v1") },
            "resources": resources,
        })
    };
    let p = path.trim_end_matches('/');
    Some(match p {
        "/version" => json!({
            "major": KUBE_VERSION.0,
            "minor": KUBE_VERSION.1,
            "gitVersion": format!("v{}.{}.0+daas-k3s", KUBE_VERSION.0, KUBE_VERSION.1),
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z",
            "goVersion": "n/a (daas-k3s is written in Rust)",
            "compiler": "rustc",
            "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
        }),
        "/api" => json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": host }],
        }),
        "/api/v1" => list(""),
        "/apis" => json!({
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": groups.iter().map(|g| group_doc(g)).collect::<Vec<_>>(),
        }),
        _ => {
            let rest = p.strip_prefix("/apis/")?;
            match rest.split_once('/') {
                None if groups.contains(&rest) => {
                    let mut d = group_doc(rest);
                    d["kind"] = json!("APIGroup");
                    d["apiVersion"] = json!("v1");
                    d
                }
                Some((g, "v1")) if groups.contains(&g) => list(g),
                _ => return None,
            }
        }
    })
}

fn group_version_path(r: &Resource) -> String {
    if r.group.is_empty() {
        "api/v1".to_owned()
    } else {
        format!("apis/{}/{}", r.group, r.version)
    }
}

/// A partial OpenAPI v3 (`/openapi/v3` and `/openapi/v3/<group-version>`): the served
/// paths and operations with their `x-kubernetes-group-version-kind` and query
/// parameters, and no schemas. It is what kubectl's field-validation check reads
/// (`cli-runtime` `queryParamVerifierV3`: a PATCH operation of the kind listing
/// `fieldValidation`), so `kubectl apply` validates on the server; without schemas kubectl
/// builds strategic merge patches from its compiled-in types, as with any server whose
/// documents lack them.
pub fn openapi_v3(path: &str) -> Option<Value> {
    use sha2::Digest as _;
    let gvs: Vec<String> = {
        let mut v: Vec<String> = RESOURCES.iter().map(group_version_path).collect();
        v.dedup();
        v
    };
    let doc = |gv: &str| {
        let mut paths = serde_json::Map::new();
        for r in RESOURCES.iter().filter(|r| group_version_path(r) == gv) {
            let gvk = json!({ "group": r.group, "version": r.version, "kind": r.kind });
            let q = |names: &[&str]| -> Value {
                Value::Array(
                    names
                        .iter()
                        .map(|n| json!({ "name": n, "in": "query", "schema": { "type": "string", "uniqueItems": true } }))
                        .collect(),
                )
            };
            let write = ["dryRun", "fieldManager", "fieldValidation", "pretty"];
            let op = |action: &str, params: Value| json!({ "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk, "parameters": params });
            let base = if r.namespaced {
                format!("/{gv}/namespaces/{{namespace}}/{}", r.plural)
            } else {
                format!("/{gv}/{}", r.plural)
            };
            paths.insert(
                base.clone(),
                json!({
                    "get": op("list", q(&["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "resourceVersionMatch", "watch", "allowWatchBookmarks", "sendInitialEvents", "timeoutSeconds"])),
                    "post": op("post", q(&write)),
                    "delete": op("deletecollection", q(&["labelSelector", "fieldSelector", "dryRun"])),
                }),
            );
            paths.insert(
                format!("{base}/{{name}}"),
                json!({
                    "get": op("get", q(&["pretty"])),
                    "put": op("put", q(&write)),
                    "patch": op("patch", q(&["dryRun", "fieldManager", "fieldValidation", "force", "pretty"])),
                    "delete": op("delete", q(&["dryRun"])),
                }),
            );
        }
        json!({
            "openapi": "3.0.0",
            "info": { "title": "Kubernetes (daas-k3s: operations only, no schemas)", "version": format!("v{}.{}.0", KUBE_VERSION.0, KUBE_VERSION.1) },
            "paths": paths,
            "components": { "schemas": {} },
        })
    };
    let p = path.trim_end_matches('/');
    if p == "/openapi/v3" {
        let mut index = serde_json::Map::new();
        for gv in &gvs {
            let hash = hex::encode(sha2::Sha256::digest(doc(gv).to_string().as_bytes()));
            index.insert(
                gv.clone(),
                json!({ "serverRelativeURL": format!("/openapi/v3/{gv}?hash={}", &hash[..32].to_uppercase()) }),
            );
        }
        return Some(json!({ "paths": index }));
    }
    let gv = p.strip_prefix("/openapi/v3/")?;
    gvs.iter().any(|g| g == gv).then(|| doc(gv))
}

/// Handles one Kubernetes API request by an authenticated user.
pub async fn handle(
    shared: &Arc<Shared>,
    user: &User,
    method: &http::Method,
    path: &str,
    query: &Query,
    headers: &http::HeaderMap,
    body: Bytes,
) -> http::Response<Body> {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    if method == http::Method::GET
        && let Some(doc) = discovery(path, &host)
    {
        return json_response(200, &doc);
    }
    if method == http::Method::GET
        && let Some(doc) = openapi_v3(path)
    {
        return json_response(200, &doc);
    }
    if path.starts_with("/openapi/") {
        return status_response(&ApiError::no_route(format!(
            "daas-k3s serves only the operation index of OpenAPI v3, not {path}"
        )));
    }
    let target = match parse_target(path) {
        Ok(Some(t)) => t,
        Ok(None) => {
            return status_response(&ApiError::no_route(format!(
                "daas-k3s does not serve {path}"
            )));
        }
        Err(e) => return status_response(&e),
    };
    match dispatch(shared, user, method, &target, query, headers, body).await {
        Ok(resp) => resp,
        Err(e) => status_response(&e),
    }
}

fn verb_for(method: &http::Method, t: &Target, query: &Query) -> &'static str {
    let watch = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    match (method.as_str(), t.name.is_some()) {
        ("GET", false) if watch => "watch",
        ("GET", false) => "list",
        ("GET", true) => "get",
        ("POST", false) => "create",
        ("PUT", true) => "update",
        ("PATCH", true) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => "",
    }
}

async fn dispatch(
    shared: &Arc<Shared>,
    user: &User,
    method: &http::Method,
    t: &Target,
    query: &Query,
    headers: &http::HeaderMap,
    body: Bytes,
) -> Result<http::Response<Body>, ApiError> {
    let r = &RESOURCES[t.res];
    let verb = verb_for(method, t, query);
    if verb.is_empty() {
        return Err(ApiError::method_not_allowed());
    }
    let ns = t.ns.clone().unwrap_or_default();
    // A create is authorized for the name in its body (the Node authorizer lets a node
    // create only its own Node).
    let body_name = (verb == "create")
        .then(|| serde_json::from_slice::<Value>(&body).ok())
        .flatten()
        .and_then(|v| v["metadata"]["name"].as_str().map(str::to_owned));
    authorize(
        user,
        verb,
        r,
        &ns,
        t.name
            .as_deref()
            .or(body_name.as_deref())
            .unwrap_or_default(),
    )?;
    let dry_run = query.get("dryRun").is_some_and(|v| v == "All");
    let strict = query.get("fieldValidation").map(String::as_str);
    match verb {
        "get" => {
            let store = shared.store.lock().expect("poisoned");
            let key = (t.res, ns, t.name.clone().unwrap_or_default());
            let obj = store
                .get(&key)
                .ok_or_else(|| ApiError::not_found(r.group, r.plural, &key.2))?;
            Ok(json_response(200, obj))
        }
        "list" => list(shared, t, query),
        "watch" => watch(shared, t, query),
        "create" => {
            let obj = parse_body(&body, r, strict)?;
            let (obj, warnings) = create(shared, user, t.res, &ns, obj, dry_run)?;
            Ok(with_warnings(json_response(201, &obj), &warnings))
        }
        "update" => {
            let obj = parse_body(&body, r, strict)?;
            let name = t.name.clone().unwrap_or_default();
            let (code, obj, warnings) = update(
                shared,
                user,
                t.res,
                &ns,
                &name,
                t.sub.as_deref().unwrap_or(""),
                Change::Replace(obj),
                dry_run,
            )?;
            Ok(with_warnings(json_response(code, &obj), &warnings))
        }
        "patch" => {
            let ct = headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_owned();
            let patch: Value = serde_json::from_slice(&body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            let change = match ct.as_str() {
                "application/merge-patch+json" => Change::Merge(patch),
                // Applied as a JSON merge patch (directives `$...` dropped): exact for the
                // map-and-scalar fields of the modelled kinds; lists are replaced whole.
                "application/strategic-merge-patch+json" => Change::Merge(strip_directives(patch)),
                "application/json-patch+json" => Change::JsonPatch(patch),
                "application/apply-patch+yaml" => {
                    return Err(ApiError::unsupported_media_type(
                        "daas-k3s does not model server-side apply (application/apply-patch+yaml): use a merge patch or an update",
                    ));
                }
                other => {
                    return Err(ApiError::unsupported_media_type(format!(
                        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {other:?})"
                    )));
                }
            };
            let name = t.name.clone().unwrap_or_default();
            let (_, obj, warnings) = update(
                shared,
                user,
                t.res,
                &ns,
                &name,
                t.sub.as_deref().unwrap_or(""),
                change,
                dry_run,
            )?;
            Ok(with_warnings(json_response(200, &obj), &warnings))
        }
        "delete" => {
            let opts: Value = if body.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&body).map_err(|e| {
                    ApiError::bad_request(format!("error decoding DeleteOptions: {e}"))
                })?
            };
            let name = t.name.clone().unwrap_or_default();
            let (obj, warnings) = delete(
                shared,
                user,
                t.res,
                &ns,
                &name,
                &opts["preconditions"],
                dry_run,
            )?;
            let status = json!({
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": { "name": name, "group": r.group, "kind": r.plural, "uid": obj["metadata"]["uid"] },
            });
            Ok(with_warnings(json_response(200, &status), &warnings))
        }
        "deletecollection" => {
            let (ls, fs) = selectors(query, r)?;
            let keys: Vec<Key> = {
                let store = shared.store.lock().expect("poisoned");
                store
                    .list(t.res, t.ns.as_deref())
                    .filter(|(_, o)| {
                        ls.matches(o["metadata"]["labels"].as_object()) && fs.matches(&r.fields(o))
                    })
                    .map(|(k, _)| k.clone())
                    .collect()
            };
            let mut items = Vec::new();
            for k in keys {
                if let Ok((o, _)) = delete(shared, user, t.res, &k.1, &k.2, &Value::Null, dry_run) {
                    items.push(o);
                }
            }
            Ok(json_response(
                200,
                &json!({ "kind": format!("{}List", r.kind), "apiVersion": r.api_version(), "metadata": {}, "items": items }),
            ))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn with_warnings(mut resp: http::Response<Body>, warnings: &[String]) -> http::Response<Body> {
    for w in warnings {
        let v = format!("299 - \"{}\"", w.replace('"', "'"));
        if let Ok(h) = http::HeaderValue::from_str(&v) {
            resp.headers_mut().append("warning", h);
        }
    }
    resp
}

fn strip_directives(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k, strip_directives(v)))
                .collect(),
        ),
        other => other,
    }
}

fn parse_body(
    body: &[u8],
    r: &Resource,
    field_validation: Option<&str>,
) -> Result<Value, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json ({e})"
        ))
    })?;
    if field_validation == Some("Strict") {
        let decoded = r.decode(&v)?;
        let mut unknown = Vec::new();
        unknown_fields(&v, &decoded, "", &mut unknown);
        if !unknown.is_empty() {
            return Err(ApiError::bad_request(format!(
                "strict decoding error: {}",
                unknown
                    .iter()
                    .map(|f| format!("unknown field \"{f}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(v)
}

/// Fields of `input` that decoding dropped (strict field validation).
fn unknown_fields(input: &Value, decoded: &Value, path: &str, out: &mut Vec<String>) {
    let (Value::Object(i), Value::Object(d)) = (input, decoded) else {
        return;
    };
    for (k, v) in i {
        if v.is_null() || k == "stringData" {
            continue;
        }
        let p = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        match d.get(k) {
            None => out.push(p),
            Some(dv) => {
                // Free-form maps (labels, data, ...) decode to themselves; recurse only into
                // structured objects.
                if !matches!(
                    k.as_str(),
                    "labels" | "annotations" | "data" | "binaryData" | "capacity" | "allocatable"
                ) {
                    unknown_fields(v, dv, &p, out);
                }
            }
        }
    }
}

/// The store key of `name` (the namespace is dropped for cluster-scoped resources).
pub fn object_key(res: usize, ns: &str, name: &str) -> Key {
    let ns = if RESOURCES[res].namespaced {
        ns.to_owned()
    } else {
        String::new()
    };
    (res, ns, name.to_owned())
}

/// Makes sure the namespace exists (namespaced resources).
fn check_namespace(store: &Store, r: &Resource, ns: &str) -> Result<(), ApiError> {
    if r.namespaced
        && store
            .get(&(NAMESPACES, String::new(), ns.to_owned()))
            .is_none()
    {
        return Err(ApiError::not_found("", "namespaces", ns));
    }
    Ok(())
}

/// Creates an object, as `POST` does.
pub fn create(
    shared: &Shared,
    user: &User,
    res: usize,
    ns: &str,
    body: Value,
    dry_run: bool,
) -> Result<(Value, Vec<String>), ApiError> {
    let r = &RESOURCES[res];
    let mut obj = r.decode(&body)?;
    let meta = &mut obj["metadata"];
    if !meta.is_object() {
        *meta = json!({});
    }
    if let Some(body_ns) = meta["namespace"].as_str()
        && !body_ns.is_empty()
        && body_ns != ns
        && r.namespaced
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if meta["resourceVersion"]
        .as_str()
        .is_some_and(|s| !s.is_empty())
    {
        return Err(ApiError::internal(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    if meta["name"].as_str().unwrap_or("").is_empty()
        && let Some(g) = meta["generateName"].as_str().filter(|g| !g.is_empty())
    {
        meta["name"] = json!(format!("{g}{}", generate_name_suffix()));
    }
    if r.namespaced {
        meta["namespace"] = json!(ns);
    } else if let Some(m) = meta.as_object_mut() {
        m.remove("namespace");
    }
    meta["uid"] = json!(new_uid());
    meta["creationTimestamp"] = json!(now_rfc3339());
    if let Some(m) = meta.as_object_mut() {
        m.remove("deletionTimestamp");
        m.remove("deletionGracePeriodSeconds");
        if r.generation {
            m.insert("generation".into(), json!(1));
        } else {
            m.remove("generation");
        }
    }
    if r.status && r.kind != "Namespace" && r.kind != "Node" {
        // VAP status is written by the apiserver's type checker, never by a create.
        if let Some(m) = obj.as_object_mut() {
            m.remove("status");
        }
    }
    if r.kind == "Namespace" {
        obj["status"] = json!({ "phase": "Active" });
        obj["spec"] = json!({ "finalizers": ["kubernetes"] });
    }
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    r.validate(&obj, None)?;
    let mut store = shared.store.lock().expect("poisoned");
    check_namespace(&store, r, ns)?;
    let key = object_key(res, ns, &name);
    if store.get(&key).is_some() {
        return Err(ApiError::already_exists(r.group, r.plural, &name));
    }
    let warnings = admission::admit(
        &store,
        &Attributes {
            res,
            subresource: "",
            operation: "CREATE",
            namespace: &key.1,
            name: &name,
            object: Some(&obj),
            old_object: None,
            user,
            dry_run,
        },
    )?;
    if dry_run {
        return Ok((obj, warnings));
    }
    let stored = store.put(key, obj);
    drop(store);
    shared.notify();
    Ok((stored.as_ref().clone(), warnings))
}

/// How an update changes the object.
#[derive(Debug)]
pub enum Change {
    /// PUT: the whole object.
    Replace(Value),
    /// RFC 7386 merge patch.
    Merge(Value),
    /// RFC 6902 JSON patch.
    JsonPatch(Value),
}

/// RFC 7386.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            let t = target.as_object_mut().expect("object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn pointer_parts(p: &str) -> Result<Vec<String>, ApiError> {
    if p.is_empty() {
        return Ok(vec![]);
    }
    let rest = p
        .strip_prefix('/')
        .ok_or_else(|| ApiError::unsupported_media_type(format!("invalid JSON pointer {p:?}")))?;
    Ok(rest
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), ApiError> {
    let bad = |m: String| ApiError::unsupported_media_type(m);
    let ops = ops
        .as_array()
        .ok_or_else(|| bad("a JSON patch is an array of operations".into()))?;
    for op in ops {
        let path = pointer_parts(op["path"].as_str().unwrap_or_default())?;
        let (parent_path, last) = match path.split_last() {
            Some((l, p)) => (p.to_vec(), l.clone()),
            None => return Err(bad("the root cannot be patched".into())),
        };
        let value = op.get("value").cloned();
        let opname = op["op"].as_str().unwrap_or_default();
        let from_value = if matches!(opname, "move" | "copy") {
            let from = op["from"].as_str().unwrap_or_default();
            Some(
                doc.pointer(from)
                    .cloned()
                    .ok_or_else(|| bad(format!("missing path {from:?}")))?,
            )
        } else {
            None
        };
        if opname == "move" {
            let from = pointer_parts(op["from"].as_str().unwrap_or_default())?;
            remove_at(doc, &from).ok_or_else(|| bad("move: missing from".into()))?;
        }
        if opname == "test" {
            let cur = doc.pointer(op["path"].as_str().unwrap_or_default());
            if cur != value.as_ref() {
                return Err(ApiError {
                    code: 422,
                    reason: "Invalid",
                    message: "the server rejected our request due to an error in our request"
                        .into(),
                    details: None,
                });
            }
            continue;
        }
        if opname == "remove" {
            remove_at(doc, &path).ok_or_else(|| {
                bad(format!(
                    "remove operation does not apply: doc is missing path: {}",
                    op["path"]
                ))
            })?;
            continue;
        }
        let parent = parent_mut(doc, &parent_path)
            .ok_or_else(|| bad(format!("doc is missing path: {}", op["path"])))?;
        match opname {
            "add" | "copy" | "move" => {
                let v = from_value.or(value).unwrap_or(Value::Null);
                match parent {
                    Value::Object(m) => {
                        m.insert(last, v);
                    }
                    Value::Array(a) => {
                        if last == "-" {
                            a.push(v);
                        } else {
                            let i: usize =
                                last.parse().map_err(|_| bad("bad array index".into()))?;
                            if i > a.len() {
                                return Err(bad("array index out of range".into()));
                            }
                            a.insert(i, v);
                        }
                    }
                    _ => return Err(bad("cannot add to a scalar".into())),
                }
            }
            "replace" => {
                let v = value.unwrap_or(Value::Null);
                let slot = match parent {
                    Value::Object(m) => m.get_mut(&last),
                    Value::Array(a) => last.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
                    _ => None,
                }
                .ok_or_else(|| {
                    bad(format!(
                        "replace operation does not apply: doc is missing key: {}",
                        op["path"]
                    ))
                })?;
                *slot = v;
            }
            other => return Err(bad(format!("unexpected kind: {other}"))),
        }
    }
    Ok(())
}

fn parent_mut<'a>(doc: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let mut cur = doc;
    for p in path {
        cur = match cur {
            Value::Object(m) => m.get_mut(p)?,
            Value::Array(a) => a.get_mut(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn remove_at(doc: &mut Value, path: &[String]) -> Option<Value> {
    let (last, parent) = path.split_last()?;
    match parent_mut(doc, parent)? {
        Value::Object(m) => m.remove(last),
        Value::Array(a) => {
            let i: usize = last.parse().ok()?;
            (i < a.len()).then(|| a.remove(i))
        }
        _ => None,
    }
}

/// Updates (PUT, or a patch applied to the current object) atomically. Returns the code
/// (201 when a PUT created the object), the object and admission warnings.
#[allow(clippy::too_many_arguments)]
pub fn update(
    shared: &Shared,
    user: &User,
    res: usize,
    ns: &str,
    name: &str,
    sub: &str,
    change: Change,
    dry_run: bool,
) -> Result<(u16, Value, Vec<String>), ApiError> {
    let r = &RESOURCES[res];
    let key = object_key(res, ns, name);
    let mut store = shared.store.lock().expect("poisoned");
    let old = store.get(&key).cloned();
    let Some(old) = old else {
        if let Change::Replace(body) = change
            && r.create_on_update
            && sub.is_empty()
        {
            drop(store);
            let (obj, w) = create(shared, user, res, ns, body, dry_run)?;
            return Ok((201, obj, w));
        }
        return Err(ApiError::not_found(r.group, r.plural, name));
    };
    let incoming = match change {
        Change::Replace(b) => b,
        Change::Merge(p) => {
            let mut cur = old.as_ref().clone();
            merge_patch(&mut cur, &p);
            // A patch without a resourceVersion applies to the current object.
            if p["metadata"]["resourceVersion"].is_null() {
                cur["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
            }
            cur
        }
        Change::JsonPatch(ops) => {
            let mut cur = old.as_ref().clone();
            json_patch(&mut cur, &ops)?;
            cur
        }
    };
    let mut obj = r.decode(&incoming)?;
    if let Some(body_name) = obj["metadata"]["name"].as_str()
        && !body_name.is_empty()
        && body_name != name
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    if r.namespaced
        && let Some(body_ns) = obj["metadata"]["namespace"].as_str()
        && !body_ns.is_empty()
        && body_ns != ns
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let want_rv = obj["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let have_rv = old["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    if !want_rv.is_empty() && want_rv != have_rv {
        return Err(ApiError::conflict(
            r.group,
            r.plural,
            name,
            ApiError::MODIFIED,
        ));
    }
    let old_uid = old["metadata"]["uid"].clone();
    if let Some(u) = obj["metadata"]["uid"].as_str()
        && !u.is_empty()
        && Some(u) != old_uid.as_str()
    {
        return Err(ApiError::conflict(
            r.group,
            r.plural,
            name,
            &format!(
                "Precondition failed: UID in precondition: {u}, UID in object meta: {}",
                old_uid.as_str().unwrap_or_default()
            ),
        ));
    }
    if sub == "status" {
        // The status subresource changes status only.
        let mut merged = old.as_ref().clone();
        merged["status"] = obj["status"].clone();
        obj = merged;
    } else {
        obj["metadata"]["name"] = json!(name);
        if r.namespaced {
            obj["metadata"]["namespace"] = json!(ns);
        }
        obj["metadata"]["uid"] = old_uid;
        obj["metadata"]["creationTimestamp"] = old["metadata"]["creationTimestamp"].clone();
        if r.status {
            obj["status"] = old["status"].clone();
            if obj["status"].is_null()
                && let Some(m) = obj.as_object_mut()
            {
                m.remove("status");
            }
        }
        if r.generation {
            let gen_ = old["metadata"]["generation"].as_i64().unwrap_or(1);
            let bumped = if obj["spec"] != old["spec"] {
                gen_ + 1
            } else {
                gen_
            };
            obj["metadata"]["generation"] = json!(bumped);
        } else if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("generation");
        }
    }
    r.validate(&obj, Some(&old))?;
    let warnings = admission::admit(
        &store,
        &Attributes {
            res,
            subresource: sub,
            operation: "UPDATE",
            namespace: &key.1,
            name,
            object: Some(&obj),
            old_object: Some(&old),
            user,
            dry_run,
        },
    )?;
    // An update that changes nothing keeps the resourceVersion (no event), as etcd3's
    // GuaranteedUpdate does.
    let mut cmp = obj.clone();
    cmp["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
    if cmp == *old.as_ref() || dry_run {
        return Ok((200, cmp, warnings));
    }
    let stored = store.put(key, obj);
    drop(store);
    shared.notify();
    Ok((200, stored.as_ref().clone(), warnings))
}

/// Deletes one object (immediately: no finalizers are modelled).
pub fn delete(
    shared: &Shared,
    user: &User,
    res: usize,
    ns: &str,
    name: &str,
    preconditions: &Value,
    dry_run: bool,
) -> Result<(Value, Vec<String>), ApiError> {
    let r = &RESOURCES[res];
    if r.kind == "Namespace" && SYSTEM_NAMESPACES.contains(&name) {
        return Err(ApiError::forbidden(
            "",
            "namespaces",
            name,
            "this namespace may not be deleted",
        ));
    }
    let key = object_key(res, ns, name);
    let mut store = shared.store.lock().expect("poisoned");
    let old = store
        .get(&key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(r.group, r.plural, name))?;
    if let Some(uid) = preconditions["uid"].as_str()
        && Some(uid) != old["metadata"]["uid"].as_str()
    {
        return Err(ApiError::conflict(
            r.group,
            r.plural,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                old["metadata"]["uid"].as_str().unwrap_or_default()
            ),
        ));
    }
    if let Some(rv) = preconditions["resourceVersion"].as_str()
        && Some(rv) != old["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::conflict(
            r.group,
            r.plural,
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                old["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or_default()
            ),
        ));
    }
    let warnings = admission::admit(
        &store,
        &Attributes {
            res,
            subresource: "",
            operation: "DELETE",
            namespace: &key.1,
            name,
            object: None,
            old_object: Some(&old),
            user,
            dry_run,
        },
    )?;
    if dry_run {
        return Ok((old.as_ref().clone(), warnings));
    }
    store.remove(&key);
    if r.kind == "Namespace" {
        // No Terminating phase is modelled: the namespace's objects go with it.
        let inner: Vec<Key> = store
            .objects
            .keys()
            .filter(|k| RESOURCES[k.0].namespaced && k.1 == name)
            .cloned()
            .collect();
        for k in inner {
            store.remove(&k);
        }
    }
    drop(store);
    shared.notify();
    Ok((old.as_ref().clone(), warnings))
}

fn selectors(query: &Query, r: &Resource) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let ls = LabelSelector::parse(
        query
            .get("labelSelector")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .map_err(ApiError::bad_request)?;
    let fs = FieldSelector::parse(
        query
            .get("fieldSelector")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .map_err(ApiError::bad_request)?;
    fs.check(r.field_selectors).map_err(ApiError::bad_request)?;
    Ok((ls, fs))
}

fn continue_token(rv: u64, key: &Key) -> String {
    use base64::Engine as _;
    let raw = json!({ "v": "meta.k8s.io/v1", "rv": rv, "start": format!("{}/{}", key.1, key.2) });
    base64::engine::general_purpose::URL_SAFE.encode(raw.to_string())
}

fn parse_continue(s: &str) -> Result<(u64, String, String), ApiError> {
    use base64::Engine as _;
    let bad = |e: &str| ApiError::bad_request(format!("continue key is not valid: {e}"));
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(s)
        .map_err(|_| bad("not base64"))?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad("not JSON"))?;
    let rv = v["rv"].as_u64().ok_or_else(|| bad("no rv"))?;
    let start = v["start"].as_str().ok_or_else(|| bad("no start"))?;
    let (ns, name) = start.split_once('/').ok_or_else(|| bad("bad start"))?;
    Ok((rv, ns.to_owned(), name.to_owned()))
}

fn list_item(o: &Value) -> Value {
    let mut o = o.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("apiVersion");
        m.remove("kind");
    }
    o
}

fn list(shared: &Shared, t: &Target, query: &Query) -> Result<http::Response<Body>, ApiError> {
    let r = &RESOURCES[t.res];
    let (ls, fs) = selectors(query, r)?;
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let store = shared.store.lock().expect("poisoned");
    let mut rv = store.rv;
    let mut after: Option<(String, String)> = None;
    if let Some(c) = query.get("continue").filter(|c| !c.is_empty()) {
        let (crv, ns, name) = parse_continue(c)?;
        if crv < store.oldest {
            return Err(ApiError::gone(
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
            ));
        }
        rv = crv;
        after = Some((ns, name));
    } else if let Some(want) = query
        .get("resourceVersion")
        .filter(|v| !v.is_empty() && *v != "0")
    {
        let want: u64 = want
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {want}")))?;
        if want > store.rv {
            return Err(ApiError::timeout(format!(
                "Too large resource version: {want}, current: {}",
                store.rv
            )));
        }
        if query.get("resourceVersionMatch").map(String::as_str) == Some("Exact")
            && want != store.rv
        {
            return Err(ApiError::gone(format!(
                "too old resource version: {want} ({})",
                store.rv
            )));
        }
    }
    let mut items = Vec::new();
    let mut last_key = None;
    let mut remaining = 0usize;
    for (k, o) in store.list(t.res, t.ns.as_deref()) {
        if let Some((ans, aname)) = &after
            && (k.1.as_str(), k.2.as_str()) <= (ans.as_str(), aname.as_str())
        {
            continue;
        }
        if !ls.matches(o["metadata"]["labels"].as_object()) || !fs.matches(&r.fields(o)) {
            continue;
        }
        if items.len() < limit {
            items.push(list_item(o));
            last_key = Some(k.clone());
        } else {
            remaining += 1;
        }
    }
    let mut meta = json!({ "resourceVersion": rv.to_string() });
    if remaining > 0
        && let Some(k) = &last_key
    {
        meta["continue"] = json!(continue_token(rv, k));
        meta["remainingItemCount"] = json!(remaining);
    }
    Ok(json_response(
        200,
        &json!({ "kind": format!("{}List", r.kind), "apiVersion": r.api_version(), "metadata": meta, "items": items }),
    ))
}

struct Filter {
    res: usize,
    ns: Option<String>,
    ls: LabelSelector,
    fs: FieldSelector,
}

impl Filter {
    fn matches(&self, key: &Key, o: &Value) -> bool {
        let r = &RESOURCES[self.res];
        key.0 == self.res
            && self.ns.as_ref().is_none_or(|n| *n == key.1)
            && self.ls.matches(o["metadata"]["labels"].as_object())
            && self.fs.matches(&r.fields(o))
    }
}

fn event_line(typ: &str, object: &Value) -> Bytes {
    let mut line =
        serde_json::to_vec(&json!({ "type": typ, "object": object })).expect("serializes");
    line.push(b'\n');
    Bytes::from(line)
}

fn watch(
    shared: &Arc<Shared>,
    t: &Target,
    query: &Query,
) -> Result<http::Response<Body>, ApiError> {
    let r = &RESOURCES[t.res];
    let (ls, fs) = selectors(query, r)?;
    let filter = Filter {
        res: t.res,
        ns: t.ns.clone(),
        ls,
        fs,
    };
    let bookmarks = matches!(
        query.get("allowWatchBookmarks").map(String::as_str),
        Some("true" | "1")
    );
    let initial_events = matches!(
        query.get("sendInitialEvents").map(String::as_str),
        Some("true" | "1")
    );
    if initial_events
        && query.get("resourceVersionMatch").map(String::as_str) != Some("NotOlderThan")
    {
        return Err(ApiError::invalid(
            "meta.k8s.io",
            "ListOptions",
            "",
            vec![super::status::FieldError::forbidden(
                "sendInitialEvents",
                "sendInitialEvents is forbidden for watch unless resourceVersionMatch is set to NotOlderThan",
            )],
        ));
    }
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1800));
    let rv_param = query.get("resourceVersion").cloned().unwrap_or_default();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(256);
    let mut initial = Vec::new();
    let start_rv;
    {
        let store = shared.store.lock().expect("poisoned");
        if initial_events || rv_param.is_empty() || rv_param == "0" {
            for (k, o) in store.list(t.res, t.ns.as_deref()) {
                if filter.matches(k, o) {
                    initial.push(event_line("ADDED", o));
                }
            }
            start_rv = store.rv;
            if initial_events {
                initial.push(event_line(
                    "BOOKMARK",
                    &json!({
                        "kind": r.kind,
                        "apiVersion": r.api_version(),
                        "metadata": { "resourceVersion": store.rv.to_string(), "creationTimestamp": null,
                                      "annotations": { "k8s.io/initial-events-end": "true" } },
                    }),
                ));
            }
        } else {
            let want: u64 = rv_param.parse().map_err(|_| {
                ApiError::bad_request(format!("invalid resource version: {rv_param}"))
            })?;
            if want < store.oldest {
                let status = ApiError::gone(format!(
                    "too old resource version: {want} ({})",
                    store.oldest
                ))
                .to_status();
                initial.push(event_line("ERROR", &status));
                let _ = tx.try_send(initial.remove(0));
                drop(tx);
                return Ok(super::server::stream_response(rx));
            }
            start_rv = want;
        }
    }
    let shared = shared.clone();
    let kind = r.kind;
    let api_version = r.api_version();
    let bookmark_every = shared.config.bookmark_interval;
    tokio::spawn(async move {
        for line in initial {
            if tx.send(line).await.is_err() {
                return;
            }
        }
        let mut last = start_rv;
        let mut rv_rx = shared.rv_tx.subscribe();
        let mut shutdown = shared.shutdown.clone();
        let start = tokio::time::Instant::now();
        let deadline = start + timeout;
        let next_bookmark = |now: tokio::time::Instant| {
            let beat = now + bookmark_every;
            let pre = deadline
                .checked_sub(Duration::from_secs(2))
                .unwrap_or(deadline);
            if pre > now && pre < beat { pre } else { beat }
        };
        let mut bookmark_at = next_bookmark(start);
        loop {
            // Send everything after `last`.
            let (lines, newest, gone) = {
                let store = shared.store.lock().expect("poisoned");
                if last < store.oldest {
                    (Vec::new(), store.rv, Some(store.oldest))
                } else {
                    let mut lines = Vec::new();
                    for e in store.events.iter().filter(|e| e.rv > last) {
                        let now_match =
                            e.typ != EventType::Deleted && filter.matches(&e.key, &e.object);
                        let was_match = e.prev.as_ref().is_some_and(|p| filter.matches(&e.key, p));
                        let typ = match (e.typ, was_match, now_match) {
                            (EventType::Deleted, true, _) => Some("DELETED"),
                            (EventType::Deleted, false, _) => None,
                            (_, true, true) => Some("MODIFIED"),
                            (_, false, true) => Some("ADDED"),
                            (_, true, false) => Some("DELETED"),
                            (_, false, false) => None,
                        };
                        if let Some(typ) = typ {
                            lines.push(event_line(typ, &e.object));
                        }
                    }
                    (lines, store.rv, None)
                }
            };
            if let Some(oldest) = gone {
                let status = ApiError::gone(format!("too old resource version: {last} ({oldest})"))
                    .to_status();
                let _ = tx.send(event_line("ERROR", &status)).await;
                return;
            }
            last = newest;
            for line in lines {
                if tx.send(line).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                changed = rv_rx.changed() => if changed.is_err() { return },
                () = tokio::time::sleep_until(bookmark_at), if bookmarks => {
                    let line = event_line("BOOKMARK", &json!({
                        "kind": kind,
                        "apiVersion": api_version,
                        "metadata": { "resourceVersion": last.to_string(), "creationTimestamp": null },
                    }));
                    if tx.send(line).await.is_err() { return }
                    bookmark_at = next_bookmark(tokio::time::Instant::now());
                    if bookmark_at >= deadline { bookmark_at = deadline + Duration::from_secs(3600) }
                }
                () = tokio::time::sleep_until(deadline) => return,
                _ = shutdown.changed() => return,
                () = tx.closed() => return,
            }
        }
    });
    Ok(super::server::stream_response(rx))
}

/// The node names in the store (for the node-password and lifecycle controllers).
pub fn node_names(store: &Store) -> Vec<String> {
    store.list(NODES, None).map(|(k, _)| k.2.clone()).collect()
}
