//! Checks wire traffic against Sui's official specs (feature `conformance`, tests only):
//! JSON-RPC requests and responses against `openrpc.json` (JSON Schema, `$ref`s
//! resolved), GraphQL documents against `schema.graphql` (parse, validate, coerce
//! variables), and GraphQL responses against the selection they answer (field names,
//! nullability, scalar encodings).
//!
//! The spec files live in the project's shared reference folder, never in this
//! repository: [`Spec::locate`] finds them through `DAAS_SPEC_DIR` or next to the
//! checkout (`../shared/spec`). Tests get them through [`Spec::for_tests`], which
//! follows the rule for everything a test needs from outside the repository: on a
//! user's clone without them it prints one `skipped: …` line per test process and
//! the checks are off; with `CI=true` it fails.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use apollo_compiler::executable::{Selection, SelectionSet};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use base64::Engine as _;
use serde_json::{Value, json};

/// Where the sandbox deliberately differs from the JSON Schema of `openrpc.json`, and
/// why. Each entry: (method or `*`, JSON pointer of the instance with `*` for any
/// map key and `#` for any array index, the reason). At these places, and only there, a decimal
/// string is read as the integer the schema asks for before validation (real nodes
/// send u64 values as strings; the schema says integer).
pub const JSONRPC_EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "*",
        "/data/version",
        "object versions: the schema says integer (SequenceNumber), real nodes and the spec's own examples send a decimal string; we emit the string",
    ),
    ("*", "/#/data/version", "the same for sui_multiGetObjects"),
    (
        "suix_getCoins",
        "/data/#/version",
        "coin versions: the same decimal-string version",
    ),
    (
        "*",
        "/effects/gasObject/reference/version",
        "object references in effects: decimal-string versions, as nodes send",
    ),
    (
        "*",
        "/effects/*/#/reference/version",
        "created/mutated/unwrapped references in effects: the same",
    ),
    (
        "*",
        "/effects/*/#/version",
        "deleted/wrapped/shared references in effects: the same",
    ),
    (
        "*",
        "/objectChanges/#/version",
        "object changes: decimal-string version",
    ),
    (
        "*",
        "/input/gasData/payment/#/version",
        "gas payment in a dry run's input: decimal-string version",
    ),
    (
        "*",
        "/transaction/data/gasData/payment/#/version",
        "gas payment in the echoed transaction: decimal-string version",
    ),
    (
        "*",
        "/effects/modifiedAtVersions/#/sequenceNumber",
        "versions before the transaction: decimal strings, as nodes send",
    ),
    (
        "*",
        "/objectChanges/#/previousVersion",
        "object changes: decimal-string previous version",
    ),
    (
        "*",
        "/input/transaction/inputs/#/version",
        "object inputs of a dry run's echoed transaction: decimal-string version",
    ),
    (
        "*",
        "/input/transaction/inputs/#/initialSharedVersion",
        "shared inputs of a dry run's echoed transaction: decimal-string version",
    ),
    (
        "*",
        "/transaction/data/transaction/inputs/#/version",
        "object inputs of the echoed transaction: decimal-string version",
    ),
    (
        "*",
        "/transaction/data/transaction/inputs/#/initialSharedVersion",
        "shared inputs of the echoed transaction: decimal-string version",
    ),
];

/// One way a message departs from the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// What was checked (`request sui_getObject`, `graphql response`...).
    pub context: String,
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Spec({} JSON-RPC methods)", self.methods.len())
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.context, self.what)
    }
}

struct Method {
    params: Vec<(String, Value, bool)>,
    result: Value,
}

/// The loaded specs, with compiled validators cached.
pub struct Spec {
    components: Value,
    methods: HashMap<String, Method>,
    schema: Valid<Schema>,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

fn pointer_matches(pattern: &str, pointer: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let q: Vec<&str> = pointer.split('/').collect();
    p.len() == q.len()
        && p.iter().zip(&q).all(|(a, b)| {
            *a == "*"
                || a == b
                || (*a == "#" && !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()))
        })
}

/// Turns decimal strings at the exception pointers into integers.
fn apply_exceptions(v: &mut Value, pointer: &str, patterns: &[&str]) {
    match v {
        Value::String(s) if patterns.iter().any(|p| pointer_matches(p, pointer)) => {
            if let Ok(n) = s.parse::<u64>() {
                *v = json!(n);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                apply_exceptions(item, &format!("{pointer}/{i}"), patterns);
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                apply_exceptions(item, &format!("{pointer}/{k}"), patterns);
            }
        }
        _ => {}
    }
}

/// The line a test process prints (once) when the spec files are missing.
pub const SPEC_MISSING: &str =
    "Sui spec files not found at ../shared/spec or $DAAS_SPEC_DIR (conformance checks off)";

/// What a test does when something it needs from outside the repository is missing:
/// on a user's clone (`CI` unset or not `true`) print `skipped: <what>` once per test
/// process, on stderr past the test harness's capture, and carry on without it; with
/// `CI=true` panic, so CI never passes by skipping. The same rule and line as
/// `daas_sandbox::testbin::require_tool` gives outside tools.
pub fn missing_outside_input(what: &str) {
    use std::io::Write as _;
    static PRINTED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what}: CI=true requires it, provide it on the CI machine");
    }
    let mut printed = PRINTED.lock().unwrap_or_else(|e| e.into_inner());
    if !printed.iter().any(|p| p == what) {
        let _ = writeln!(std::io::stderr().lock(), "skipped: {what}");
        printed.push(what.to_string());
    }
}

impl Spec {
    /// The spec folder: `$DAAS_SPEC_DIR`, else `shared/spec` next to the checkout.
    pub fn locate() -> Result<PathBuf, String> {
        Self::locate_from(
            std::env::var_os("DAAS_SPEC_DIR").as_deref(),
            Path::new(env!("CARGO_MANIFEST_DIR")),
        )
    }

    /// [`Spec::locate`] with its inputs given: `env_dir` (when set, the folder must
    /// hold the files — a wrong setting is an error, never a skip) or `shared/spec`
    /// in the checkout's parent folders, starting above `manifest_dir`.
    pub fn locate_from(
        env_dir: Option<&std::ffi::OsStr>,
        manifest_dir: &Path,
    ) -> Result<PathBuf, String> {
        let complete = |d: &Path| {
            ["openrpc.json", "schema.graphql"]
                .iter()
                .all(|f| d.join(f).is_file())
        };
        if let Some(d) = env_dir {
            let d = PathBuf::from(d);
            return if complete(&d) {
                Ok(d)
            } else {
                Err(format!(
                    "DAAS_SPEC_DIR={} does not hold openrpc.json and schema.graphql: point it at Sui's spec folder or unset it",
                    d.display()
                ))
            };
        }
        for up in manifest_dir.ancestors().skip(1).take(3) {
            let candidate = up.join("shared").join("spec");
            if complete(&candidate) {
                return Ok(candidate);
            }
        }
        Err(SPEC_MISSING.to_string())
    }

    /// The specs for this test process, loaded once. `None` when they are not found
    /// (see [`missing_outside_input`]: one skip line, or a failure with `CI=true`);
    /// a `DAAS_SPEC_DIR` that does not hold them, or files that do not parse, fail.
    pub fn for_tests() -> Option<Arc<Spec>> {
        static SPEC: std::sync::OnceLock<Option<Arc<Spec>>> = std::sync::OnceLock::new();
        let spec = SPEC.get_or_init(|| match Self::locate() {
            Ok(dir) => Some(Arc::new(Spec::load(&dir).unwrap_or_else(|e| panic!("{e}")))),
            Err(e) if e == SPEC_MISSING => None,
            Err(e) => panic!("{e}"),
        });
        if spec.is_none() {
            missing_outside_input(SPEC_MISSING);
        }
        spec.clone()
    }

    /// Loads `openrpc.json` and `schema.graphql` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .map_err(|e| format!("{}: {e}", dir.join(name).display()))
        };
        let openrpc: Value = serde_json::from_str(&read("openrpc.json")?)
            .map_err(|e| format!("openrpc.json: {e}"))?;
        let mut methods = HashMap::new();
        for m in openrpc["methods"]
            .as_array()
            .ok_or("openrpc.json has no methods")?
        {
            let name = m["name"].as_str().ok_or("method without name")?.to_string();
            let params = m["params"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| {
                            (
                                p["name"].as_str().unwrap_or("?").to_string(),
                                p["schema"].clone(),
                                p["required"].as_bool().unwrap_or(false),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            methods.insert(
                name,
                Method {
                    params,
                    result: m["result"]["schema"].clone(),
                },
            );
        }
        let schema = Schema::parse_and_validate(read("schema.graphql")?, "schema.graphql")
            .map_err(|e| format!("schema.graphql does not validate: {}", e.errors))?;
        Ok(Spec {
            components: openrpc["components"].clone(),
            methods,
            schema,
            validators: Mutex::new(HashMap::new()),
        })
    }

    fn validator(&self, key: &str, schema: &Value) -> Result<Arc<jsonschema::Validator>, String> {
        if let Some(v) = self.validators.lock().expect("poisoned").get(key) {
            return Ok(Arc::clone(v));
        }
        let mut root = match schema {
            Value::Object(m) => Value::Object(m.clone()),
            other => json!({"allOf": [other]}),
        };
        root["components"] = self.components.clone();
        let v = Arc::new(
            jsonschema::validator_for(&root).map_err(|e| format!("schema for {key}: {e}"))?,
        );
        self.validators
            .lock()
            .expect("poisoned")
            .insert(key.to_string(), Arc::clone(&v));
        Ok(v)
    }

    fn validate(
        &self,
        method: &str,
        key: &str,
        schema: &Value,
        instance: &Value,
        context: &str,
    ) -> Vec<Violation> {
        let v = match self.validator(key, schema) {
            Ok(v) => v,
            Err(what) => {
                return vec![Violation {
                    context: context.into(),
                    what,
                }];
            }
        };
        let mut instance = instance.clone();
        let patterns: Vec<&str> = JSONRPC_EXCEPTIONS
            .iter()
            .filter(|(m, _, _)| *m == "*" || *m == method)
            .map(|(_, p, _)| *p)
            .collect();
        apply_exceptions(&mut instance, "", &patterns);
        v.iter_errors(&instance)
            .map(|e| Violation {
                context: context.into(),
                what: format!("at {}: {e}", e.instance_path()),
            })
            .collect()
    }

    /// A JSON-RPC request body (`{jsonrpc, id, method, params}`) against the method's
    /// parameter schemas.
    pub fn check_jsonrpc_request(&self, body: &Value) -> Vec<Violation> {
        let method = body["method"].as_str().unwrap_or("");
        let context = format!("request {method}");
        let Some(m) = self.methods.get(method) else {
            return vec![Violation {
                context,
                what: "no such method in openrpc.json".into(),
            }];
        };
        let mut out = Vec::new();
        if body["jsonrpc"] != "2.0" {
            out.push(Violation {
                context: context.clone(),
                what: "jsonrpc is not \"2.0\"".into(),
            });
        }
        let params = body["params"].as_array().cloned().unwrap_or_default();
        if params.len() > m.params.len() {
            out.push(Violation {
                context: context.clone(),
                what: format!("{} params, the method has {}", params.len(), m.params.len()),
            });
        }
        for (i, (name, schema, required)) in m.params.iter().enumerate() {
            match params.get(i) {
                None | Some(Value::Null) if *required => out.push(Violation {
                    context: context.clone(),
                    what: format!("required param {name} missing"),
                }),
                None | Some(Value::Null) => {}
                Some(p) => out.extend(self.validate(
                    method,
                    &format!("{method}/param/{name}"),
                    schema,
                    p,
                    &format!("{context} param {name}"),
                )),
            }
        }
        out
    }

    /// A JSON-RPC response to `method`: either `result` against the result schema, or
    /// a well-formed `error`.
    pub fn check_jsonrpc_response(&self, method: &str, response: &Value) -> Vec<Violation> {
        let context = format!("response {method}");
        if response["jsonrpc"] != "2.0" {
            return vec![Violation {
                context,
                what: "jsonrpc is not \"2.0\"".into(),
            }];
        }
        if let Some(err) = response.get("error") {
            let ok = err["code"].is_i64() && err["message"].is_string();
            return if ok {
                vec![]
            } else {
                vec![Violation {
                    context,
                    what: format!("malformed error object {err}"),
                }]
            };
        }
        let Some(m) = self.methods.get(method) else {
            return vec![Violation {
                context,
                what: "no such method in openrpc.json".into(),
            }];
        };
        match response.get("result") {
            None => vec![Violation {
                context,
                what: "neither result nor error".into(),
            }],
            Some(r) => self.validate(method, &format!("{method}/result"), &m.result, r, &context),
        }
    }

    /// A GraphQL request: the document parses and validates against the schema, and
    /// the variables coerce to the operation's variable types.
    pub fn check_graphql_request(&self, query: &str, variables: &Value) -> Vec<Violation> {
        let context = "graphql request".to_string();
        let doc =
            match ExecutableDocument::parse_and_validate(&self.schema, query, "request.graphql") {
                Ok(d) => d,
                Err(e) => {
                    return vec![Violation {
                        context,
                        what: format!("document invalid: {}", e.errors),
                    }];
                }
            };
        let op = match doc.operations.get(None) {
            Ok(op) => op,
            Err(_) => {
                return vec![Violation {
                    context,
                    what: "no single operation".into(),
                }];
            }
        };
        let vars = if variables.is_null() {
            json!({})
        } else {
            variables.clone()
        };
        let map: apollo_compiler::response::JsonMap = match serde_json::from_value(vars) {
            Ok(m) => m,
            Err(e) => {
                return vec![Violation {
                    context,
                    what: format!("variables are not an object: {e}"),
                }];
            }
        };
        match apollo_compiler::request::coerce_variable_values(&self.schema, op, &map) {
            Ok(_) => vec![],
            Err(e) => vec![Violation {
                context,
                what: format!("variables: {}", e.message()),
            }],
        }
    }

    /// A GraphQL response against the document it answers: every key is a selected
    /// field, non-null fields are present, scalars use Sui's encodings. Without the
    /// request's variables, a field under `@include`/`@skip` on a variable may be absent.
    pub fn check_graphql_response(&self, query: &str, response: &Value) -> Vec<Violation> {
        self.check_graphql_response_with_variables(query, &Value::Null, response)
    }

    /// [`Spec::check_graphql_response`] with the request's variables: a field that
    /// `@include(if: false)` / `@skip(if: true)` leaves out must be absent, one they
    /// keep must be present.
    pub fn check_graphql_response_with_variables(
        &self,
        query: &str,
        variables: &Value,
        response: &Value,
    ) -> Vec<Violation> {
        let mut out = Vec::new();
        let doc =
            match ExecutableDocument::parse_and_validate(&self.schema, query, "request.graphql") {
                Ok(d) => d,
                Err(e) => {
                    out.push(Violation {
                        context: "graphql response".into(),
                        what: format!("document invalid: {}", e.errors),
                    });
                    return out;
                }
            };
        if let Some(errors) = response.get("errors") {
            let ok = errors
                .as_array()
                .is_some_and(|a| a.iter().all(|e| e["message"].is_string()));
            if !ok {
                out.push(Violation {
                    context: "graphql response".into(),
                    what: format!("malformed errors {errors}"),
                });
            }
        }
        let Ok(op) = doc.operations.get(None) else {
            return out;
        };
        match response.get("data") {
            Some(Value::Null) | None => {
                if response.get("errors").is_none() {
                    out.push(Violation {
                        context: "graphql response".into(),
                        what: "neither data nor errors".into(),
                    });
                }
            }
            Some(data) => {
                // the operation's boolean defaults, overridden by the given variables
                let mut vars = serde_json::Map::new();
                if variables.is_object() {
                    for d in &op.variables {
                        if let Some(apollo_compiler::ast::Value::Boolean(b)) =
                            d.default_value.as_deref()
                        {
                            vars.insert(d.name.to_string(), Value::Bool(*b));
                        }
                    }
                    if let Some(given) = variables.as_object() {
                        vars.extend(given.clone());
                    }
                }
                let vars = Value::Object(vars);
                self.walk(&doc, &vars, &op.selection_set, data, "data", &mut out)
            }
        }
        out
    }

    fn walk(
        &self,
        doc: &ExecutableDocument,
        vars: &Value,
        set: &SelectionSet,
        value: &Value,
        path: &str,
        out: &mut Vec<Violation>,
    ) {
        let Some(obj) = value.as_object() else {
            out.push(Violation {
                context: path.into(),
                what: format!("expected an object of type {}, got {value}", set.ty),
            });
            return;
        };
        let typename = obj.get("__typename").and_then(Value::as_str);
        let mut selected = Vec::new();
        self.collect(doc, vars, set, typename, &mut selected);
        for key in obj.keys() {
            if !selected.iter().any(|(k, _)| k == key) {
                out.push(Violation {
                    context: path.into(),
                    what: format!("key `{key}` was not selected"),
                });
            }
        }
        for (key, field) in selected {
            let sub = format!("{path}.{key}");
            match obj.get(&key) {
                None => {
                    // a field under a fragment for another concrete type may be absent
                    if field.0 {
                        out.push(Violation {
                            context: sub,
                            what: "selected field is missing".into(),
                        });
                    }
                }
                Some(v) => self.check_value(
                    doc,
                    vars,
                    &field.1.ty().clone(),
                    &field.1.selection_set,
                    v,
                    &sub,
                    out,
                ),
            }
        }
    }

    /// Collects (response key, (must_be_present, field)) for a selection set, through
    /// fragments whose type condition applies (when `__typename` is known).
    fn collect<'a>(
        &self,
        doc: &'a ExecutableDocument,
        vars: &Value,
        set: &'a SelectionSet,
        typename: Option<&str>,
        out: &mut Vec<(String, (bool, &'a apollo_compiler::executable::Field))>,
    ) {
        self.collect_inner(doc, vars, set, typename, true, out);
    }

    fn collect_inner<'a>(
        &self,
        doc: &'a ExecutableDocument,
        vars: &Value,
        set: &'a SelectionSet,
        typename: Option<&str>,
        required: bool,
        out: &mut Vec<(String, (bool, &'a apollo_compiler::executable::Field))>,
    ) {
        for sel in &set.selections {
            // excluded selections answer nothing; unknown ones (no variables) may be absent
            let required = match included(sel.directives(), vars) {
                Some(false) => continue,
                Some(true) => required,
                None => false,
            };
            match sel {
                Selection::Field(f) => {
                    let key = f.response_key().to_string();
                    if !out.iter().any(|(k, _)| *k == key) {
                        out.push((key, (required, f.as_ref())));
                    }
                }
                Selection::InlineFragment(fr) => {
                    let applies = match (&fr.type_condition, typename) {
                        (None, _) => Some(required),
                        (Some(cond), Some(t)) => {
                            self.type_applies(cond.as_str(), t).then_some(required)
                        }
                        (Some(_), None) => Some(false),
                    };
                    if let Some(req) = applies {
                        self.collect_inner(doc, vars, &fr.selection_set, typename, req, out);
                    }
                }
                Selection::FragmentSpread(s) => {
                    if let Some(fr) = doc.fragments.get(&s.fragment_name) {
                        let cond = fr.type_condition().as_str();
                        let applies = match typename {
                            Some(t) => self.type_applies(cond, t).then_some(required),
                            None => Some(false),
                        };
                        if let Some(req) = applies {
                            self.collect_inner(doc, vars, &fr.selection_set, typename, req, out);
                        }
                    }
                }
            }
        }
    }

    fn type_applies(&self, condition: &str, concrete: &str) -> bool {
        if condition == concrete {
            return true;
        }
        match self.schema.types.get(condition) {
            Some(ExtendedType::Union(u)) => u.members.iter().any(|m| m.name == concrete),
            Some(ExtendedType::Interface(_)) => self
                .schema
                .types
                .get(concrete)
                .is_some_and(|t| matches!(t, ExtendedType::Object(o) if o.implements_interfaces.iter().any(|i| i.name == condition))),
            _ => false,
        }
    }

    // The walk's state (document, variables, output) travels with each step, as in
    // `walk` and `collect_inner`; a struct for it would only rename the arguments.
    #[allow(clippy::too_many_arguments)]
    fn check_value(
        &self,
        doc: &ExecutableDocument,
        vars: &Value,
        ty: &apollo_compiler::ast::Type,
        set: &SelectionSet,
        v: &Value,
        path: &str,
        out: &mut Vec<Violation>,
    ) {
        if v.is_null() {
            if ty.is_non_null() {
                out.push(Violation {
                    context: path.into(),
                    what: format!("null for non-null type {ty}"),
                });
            }
            return;
        }
        if ty.is_list() {
            match v.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.check_value(
                            doc,
                            vars,
                            ty.item_type(),
                            set,
                            item,
                            &format!("{path}[{i}]"),
                            out,
                        );
                    }
                }
                None => out.push(Violation {
                    context: path.into(),
                    what: format!("expected a list for {ty}, got {v}"),
                }),
            }
            return;
        }
        let name = ty.inner_named_type().as_str();
        match self.schema.types.get(name) {
            Some(ExtendedType::Scalar(_)) => {
                if let Err(what) = check_scalar(name, v) {
                    out.push(Violation {
                        context: path.into(),
                        what,
                    });
                }
            }
            Some(ExtendedType::Enum(e)) => {
                if !v.as_str().is_some_and(|s| e.values.contains_key(s)) {
                    out.push(Violation {
                        context: path.into(),
                        what: format!("{v} is not a value of enum {name}"),
                    });
                }
            }
            Some(_) => self.walk(doc, vars, set, v, path, out),
            None => out.push(Violation {
                context: path.into(),
                what: format!("unknown type {name}"),
            }),
        }
    }
}

/// Sui's scalar encodings (SUI-WIRE §3).
fn check_scalar(name: &str, v: &Value) -> Result<(), String> {
    let s = v.as_str();
    let ok = match name {
        "String" | "ID" => s.is_some(),
        "Int" => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        "Float" => v.is_number(),
        "Boolean" => v.is_boolean(),
        "UInt53" => v.as_u64().is_some_and(|n| n < (1u64 << 53)),
        "BigInt" => s.is_some_and(|s| {
            !s.is_empty()
                && s.trim_start_matches('-')
                    .bytes()
                    .all(|b| b.is_ascii_digit())
        }),
        "Base64" => s.is_some_and(|s| base64::engine::general_purpose::STANDARD.decode(s).is_ok()),
        "SuiAddress" => s.is_some_and(|s| {
            s.len() == 66
                && s.starts_with("0x")
                && s[2..]
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        }),
        "DateTime" => s.is_some_and(|s| {
            s.len() >= 20
                && s.as_bytes()[4] == b'-'
                && s.contains('T')
                && (s.ends_with('Z') || s.contains('+'))
        }),
        "JSON" => true,
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{v} is not a valid {name}"))
    }
}

/// Whether `@include`/`@skip` keep a selection: `Some(true)`/`Some(false)` when decided,
/// `None` when a condition is a variable the caller did not give.
fn included(directives: &apollo_compiler::executable::DirectiveList, vars: &Value) -> Option<bool> {
    use apollo_compiler::ast::Value as Gv;
    let cond = |name: &str| -> Option<Option<bool>> {
        let d = directives.get(name)?;
        let v = d.specified_argument_by_name("if")?;
        Some(match v.as_ref() {
            Gv::Boolean(b) => Some(*b),
            Gv::Variable(n) => vars.get(n.as_str()).and_then(Value::as_bool),
            _ => None,
        })
    };
    let include = cond("include").unwrap_or(Some(true));
    let skip = cond("skip").unwrap_or(Some(false));
    match (include, skip) {
        (Some(false), _) | (_, Some(true)) => Some(false),
        (Some(true), Some(false)) => Some(true),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_is_found_next_to_the_checkout_or_where_the_variable_says() {
        let tmp = tempfile::tempdir().unwrap();
        let checkout = tmp.path().join("work").join("repo");
        let manifest = checkout.join("sandbox");
        std::fs::create_dir_all(&manifest).unwrap();
        // a newcomer's clone: nothing next to it
        assert_eq!(
            Spec::locate_from(None, &manifest).unwrap_err(),
            SPEC_MISSING
        );
        // half a spec folder is not a spec folder
        let shared = tmp.path().join("work").join("shared").join("spec");
        std::fs::create_dir_all(&shared).unwrap();
        std::fs::write(shared.join("openrpc.json"), "{}").unwrap();
        assert!(Spec::locate_from(None, &manifest).is_err());
        std::fs::write(shared.join("schema.graphql"), "").unwrap();
        assert_eq!(Spec::locate_from(None, &manifest).unwrap(), shared);
        // the variable wins, and a wrong one is an error naming it, not a skip
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        let err = Spec::locate_from(Some(elsewhere.as_os_str()), &manifest).unwrap_err();
        assert!(err.starts_with("DAAS_SPEC_DIR="), "{err}");
        assert_ne!(err, SPEC_MISSING);
        assert_eq!(
            Spec::locate_from(Some(shared.as_os_str()), &manifest).unwrap(),
            shared
        );
    }
}
