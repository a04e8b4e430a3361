//! ValidatingAdmissionPolicy, evaluated with a real CEL library (the `cel` crate) the way
//! the apiserver's plugin does (`k8s.io/apiserver/pkg/admission/plugin/policy/validating`
//! `dispatcher.go`, `validator.go`, `generic.CollectParams`):
//!
//! - a policy applies when its `matchConstraints` match (resourceRules / excludeResourceRules
//!   by apiGroups, apiVersions, operations, resources incl. `x/status` and `*`, scope,
//!   resourceNames; namespaceSelector; objectSelector), and each binding naming it whose
//!   `matchResources` (if set) match;
//! - params: `paramKind` ConfigMap with `paramRef` by `name` or by `selector` in
//!   `paramRef.namespace` (or the request's namespace); **every** matched parameter is
//!   evaluated; none found: `parameterNotFoundAction` Allow admits, Deny is a
//!   configuration error ("no params found for policy binding with `Deny`
//!   parameterNotFoundAction");
//! - `matchConditions` all true or the policy is skipped; `variables`; `validations` over
//!   `object`, `oldObject`, `params`, `request`, `namespaceObject`, `variables`;
//! - evaluation errors and configuration errors follow `failurePolicy` (default Fail);
//! - a failed validation's message: `messageExpression` result, else `message`, else
//!   `failed expression: <expr>`; `validationActions` Deny refuses, Warn adds a warning;
//! - the refusal is `admission.NewForbidden` text with the reason of the validation
//!   (default `Invalid`, so 422; `reason: Forbidden` gives 403):
//!   `<resource> "<name>" is forbidden: ValidatingAdmissionPolicy '<p>' with binding '<b>' denied request: <msg>`.

use serde_json::{Value, json};

use super::auth::User;
use super::objects::Store;
use super::resources::{CONFIGMAPS, NAMESPACES, RESOURCES, VAPBS, VAPS};
use super::selector::LabelSelector;
use super::status::ApiError;

/// The request being admitted.
#[derive(Debug)]
pub struct Attributes<'a> {
    /// Resource index.
    pub res: usize,
    /// Subresource ("" or "status").
    pub subresource: &'a str,
    /// `CREATE`, `UPDATE` or `DELETE`.
    pub operation: &'static str,
    /// Namespace ("" when cluster-scoped).
    pub namespace: &'a str,
    /// Object name.
    pub name: &'a str,
    /// The new object (none for DELETE).
    pub object: Option<&'a Value>,
    /// The existing object (none for CREATE).
    pub old_object: Option<&'a Value>,
    /// Who asks.
    pub user: &'a User,
    /// `dryRun=All`.
    pub dry_run: bool,
}

struct Decision {
    message: String,
    reason: Option<String>,
    policy: String,
    binding: Option<String>,
}

/// Runs every policy; `Ok(warnings)` admits, `Err` is the apiserver's refusal.
pub fn admit(store: &Store, a: &Attributes<'_>) -> Result<Vec<String>, ApiError> {
    let mut denied: Option<Decision> = None;
    let mut warnings = Vec::new();
    let policies: Vec<&Value> = store.list(VAPS, None).map(|(_, v)| v.as_ref()).collect();
    let bindings: Vec<&Value> = store.list(VAPBS, None).map(|(_, v)| v.as_ref()).collect();
    for policy in policies {
        if denied.is_some() {
            break;
        }
        let pname = policy["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let spec = &policy["spec"];
        if !matches_resources(store, &spec["matchConstraints"], a, true) {
            continue;
        }
        let fail_closed = spec["failurePolicy"].as_str() != Some("Ignore");
        let config_error = |err: String, binding: Option<String>| -> Option<Decision> {
            fail_closed.then(|| Decision {
                message: if binding.is_some() {
                    format!("failed to configure binding: {err}")
                } else {
                    format!("failed to configure policy: {err}")
                },
                reason: None,
                policy: pname.clone(),
                binding,
            })
        };
        for binding in bindings
            .iter()
            .filter(|b| b["spec"]["policyName"].as_str() == Some(pname.as_str()))
        {
            let bname = binding["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let bspec = &binding["spec"];
            if bspec["matchResources"].is_object()
                && !matches_resources(store, &bspec["matchResources"], a, false)
            {
                continue;
            }
            let params = match collect_params(store, &spec["paramKind"], &bspec["paramRef"], a) {
                Ok(p) => p,
                Err(e) => {
                    if let Some(d) = config_error(e, Some(bname.clone())) {
                        denied = Some(d);
                        break;
                    }
                    continue;
                }
            };
            let actions: Vec<&str> = bspec["validationActions"]
                .as_array()
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for param in &params {
                for (message, reason) in evaluate(store, spec, param, a, fail_closed) {
                    if actions.contains(&"Warn") {
                        warnings.push(format!(
                            "Validation failed for ValidatingAdmissionPolicy '{pname}' with binding '{bname}': {message}"
                        ));
                    }
                    if actions.contains(&"Deny") && denied.is_none() {
                        denied = Some(Decision {
                            message,
                            reason,
                            policy: pname.clone(),
                            binding: Some(bname.clone()),
                        });
                    }
                }
            }
            if denied.is_some() {
                break;
            }
        }
    }
    let Some(d) = denied else { return Ok(warnings) };
    let message = match &d.binding {
        Some(b) => format!(
            "ValidatingAdmissionPolicy '{}' with binding '{b}' denied request: {}",
            d.policy, d.message
        ),
        None => format!(
            "ValidatingAdmissionPolicy '{}' denied request: {}",
            d.policy, d.message
        ),
    };
    let r = &RESOURCES[a.res];
    let mut err = ApiError::forbidden(r.group, r.plural, a.name, &message);
    let reason = d.reason.unwrap_or_else(|| "Invalid".into());
    let (code, reason) = match reason.as_str() {
        "Forbidden" => (403, "Forbidden"),
        "Unauthorized" => (401, "Unauthorized"),
        "RequestEntityTooLarge" => (413, "RequestEntityTooLarge"),
        _ => (422, "Invalid"),
    };
    err.code = code;
    err.reason = reason;
    if let Some(details) = err.details.as_mut() {
        details["causes"] = json!([{ "message": message }]);
    }
    Err(err)
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn rule_matches(rule: &Value, a: &Attributes<'_>) -> bool {
    let r = &RESOURCES[a.res];
    let any = |list: &[&str], v: &str| list.iter().any(|x| *x == "*" || *x == v);
    if !any(&strs(&rule["operations"]), a.operation) {
        return false;
    }
    if !any(&strs(&rule["apiGroups"]), r.group) || !any(&strs(&rule["apiVersions"]), r.version) {
        return false;
    }
    let full = if a.subresource.is_empty() {
        r.plural.to_owned()
    } else {
        format!("{}/{}", r.plural, a.subresource)
    };
    let res_ok = strs(&rule["resources"]).iter().any(|x| {
        *x == full
            || (*x == "*" && a.subresource.is_empty())
            || *x == "*/*"
            || (!a.subresource.is_empty() && *x == format!("{}/*", r.plural))
            || (!a.subresource.is_empty() && *x == format!("*/{}", a.subresource))
    });
    if !res_ok {
        return false;
    }
    match rule["scope"].as_str().unwrap_or("*") {
        "Cluster" if r.namespaced => return false,
        "Namespaced" if !r.namespaced => return false,
        _ => {}
    }
    let names = strs(&rule["resourceNames"]);
    names.is_empty() || names.contains(&a.name)
}

fn labels_of(v: Option<&Value>) -> Option<&serde_json::Map<String, Value>> {
    v.and_then(|o| o["metadata"]["labels"].as_object())
}

/// `matchConstraints` / `matchResources`.
fn matches_resources(store: &Store, m: &Value, a: &Attributes<'_>, required: bool) -> bool {
    if !m.is_object() {
        return !required;
    }
    let rules = m["resourceRules"].as_array().cloned().unwrap_or_default();
    if !rules.iter().any(|r| rule_matches(r, a)) {
        return false;
    }
    if m["excludeResourceRules"]
        .as_array()
        .is_some_and(|ex| ex.iter().any(|r| rule_matches(r, a)))
    {
        return false;
    }
    if m["objectSelector"].is_object() {
        let Ok(sel) = LabelSelector::from_object(&m["objectSelector"]) else {
            return false;
        };
        if !sel.matches(labels_of(a.object)) && !sel.matches(labels_of(a.old_object)) {
            return false;
        }
    }
    if m["namespaceSelector"].is_object() {
        let Ok(sel) = LabelSelector::from_object(&m["namespaceSelector"]) else {
            return false;
        };
        let r = &RESOURCES[a.res];
        if r.kind == "Namespace" {
            if !sel.matches(labels_of(a.object.or(a.old_object))) {
                return false;
            }
        } else if r.namespaced {
            let ns = store.get(&(NAMESPACES, String::new(), a.namespace.to_owned()));
            if !sel.matches(labels_of(ns.map(|v| v.as_ref()))) {
                return false;
            }
        }
    }
    true
}

/// `generic.CollectParams`: `[null]` without paramKind/paramRef; else the matched
/// ConfigMaps (possibly none, with Allow).
fn collect_params(
    store: &Store,
    kind: &Value,
    pref: &Value,
    a: &Attributes<'_>,
) -> Result<Vec<Value>, String> {
    if !kind.is_object() || !pref.is_object() {
        return Ok(vec![Value::Null]);
    }
    let (api_version, k) = (
        kind["apiVersion"].as_str().unwrap_or_default(),
        kind["kind"].as_str().unwrap_or_default(),
    );
    if api_version != "v1" || k != "ConfigMap" {
        return Err(format!(
            "paramKind kind `{api_version}, Kind={k}` not known (daas-k3s models ConfigMap parameters only)"
        ));
    }
    let ns = pref["namespace"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or(a.namespace);
    if ns.is_empty() {
        return Err(
            "paramRef.namespace must be set when the paramKind is namespaced and the object admitted is cluster-scoped"
                .into(),
        );
    }
    let mut params = Vec::new();
    if let Some(name) = pref["name"].as_str().filter(|s| !s.is_empty()) {
        if let Some(cm) = store.get(&(CONFIGMAPS, ns.to_owned(), name.to_owned())) {
            params.push(cm.as_ref().clone());
        }
    } else if pref["selector"].is_object() {
        let sel = LabelSelector::from_object(&pref["selector"])?;
        for (_, cm) in store.list(CONFIGMAPS, Some(ns)) {
            if sel.matches(cm["metadata"]["labels"].as_object()) {
                params.push(cm.as_ref().clone());
            }
        }
    }
    if params.is_empty() && pref["parameterNotFoundAction"].as_str() == Some("Deny") {
        return Err(
            "no params found for policy binding with `Deny` parameterNotFoundAction".into(),
        );
    }
    Ok(params)
}

fn to_cel(v: &Value) -> cel::Value {
    cel::to_value(v).unwrap_or(cel::Value::Null)
}

fn eval(expr: &str, ctx: &cel::Context<'_, '_>) -> Result<cel::Value, String> {
    let program = cel::Program::compile(expr).map_err(|e| format!("compilation failed: {e}"))?;
    program.execute(ctx).map_err(|e| e.to_string())
}

/// The failed validations of one (policy, param): `(message, reason)`.
fn evaluate(
    store: &Store,
    spec: &Value,
    param: &Value,
    a: &Attributes<'_>,
    fail_closed: bool,
) -> Vec<(String, Option<String>)> {
    let r = &RESOURCES[a.res];
    let request = json!({
        "kind": { "group": r.group, "version": r.version, "kind": r.kind },
        "resource": { "group": r.group, "version": r.version, "resource": r.plural },
        "requestKind": { "group": r.group, "version": r.version, "kind": r.kind },
        "requestResource": { "group": r.group, "version": r.version, "resource": r.plural },
        "subResource": a.subresource,
        "name": a.name,
        "namespace": a.namespace,
        "operation": a.operation,
        "userInfo": { "username": a.user.name, "groups": a.user.groups },
        "dryRun": a.dry_run,
    });
    let ns_obj = if r.namespaced {
        store
            .get(&(NAMESPACES, String::new(), a.namespace.to_owned()))
            .map(|v| v.as_ref().clone())
            .unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let vars_in = [
        ("object", to_cel(a.object.unwrap_or(&Value::Null))),
        ("oldObject", to_cel(a.old_object.unwrap_or(&Value::Null))),
        ("params", to_cel(param)),
        ("request", to_cel(&request)),
        ("namespaceObject", to_cel(&ns_obj)),
    ];
    let context = |variables: cel::Value| {
        let mut ctx = cel::Context::default();
        for (name, v) in &vars_in {
            ctx.add_variable_from_value(*name, v.clone());
        }
        ctx.add_variable_from_value("variables", variables);
        ctx
    };
    let empty: std::collections::HashMap<cel::objects::Key, cel::Value> =
        std::collections::HashMap::new();
    let ctx = context(cel::Value::Map(empty.into()));
    let error = |msg: String| {
        if fail_closed {
            vec![(msg, None)]
        } else {
            vec![]
        }
    };
    // matchConditions: every one true, or the policy does not apply.
    for mc in spec["matchConditions"].as_array().into_iter().flatten() {
        let name = mc["name"].as_str().unwrap_or_default();
        match eval(mc["expression"].as_str().unwrap_or_default(), &ctx) {
            Ok(cel::Value::Bool(true)) => {}
            Ok(cel::Value::Bool(false)) => return vec![],
            Ok(_) => return error(format!("matchCondition '{name}' must evaluate to bool")),
            Err(e) => return error(format!("matchCondition '{name}' failed to evaluate: {e}")),
        }
    }
    let mut vars = std::collections::HashMap::new();
    for v in spec["variables"].as_array().into_iter().flatten() {
        let name = v["name"].as_str().unwrap_or_default().to_owned();
        let vctx = context(cel::Value::Map(vars.clone().into()));
        if let Ok(val) = eval(v["expression"].as_str().unwrap_or_default(), &vctx) {
            vars.insert(cel::objects::Key::String(name.into()), val);
        }
    }
    let ctx = if vars.is_empty() {
        ctx
    } else {
        context(cel::Value::Map(vars.into()))
    };
    let mut out = Vec::new();
    for val in spec["validations"].as_array().into_iter().flatten() {
        let expr = val["expression"].as_str().unwrap_or_default();
        match eval(expr, &ctx) {
            Ok(cel::Value::Bool(true)) => {}
            Ok(cel::Value::Bool(false)) => {
                let mut message = String::new();
                if let Some(me) = val["messageExpression"].as_str()
                    && let Ok(cel::Value::String(s)) = eval(me, &ctx)
                {
                    let s = s.trim();
                    if !s.contains('\n') && s.len() <= 5 * 1024 {
                        message = s.to_owned();
                    }
                }
                if message.is_empty() {
                    message = val["message"]
                        .as_str()
                        .unwrap_or_default()
                        .trim()
                        .to_owned();
                }
                if message.is_empty() {
                    message = format!("failed expression: {}", expr.trim());
                }
                out.push((message, val["reason"].as_str().map(str::to_owned)));
            }
            Ok(_) => out.extend(error(format!(
                "expression '{}' resulted in error: validation expression must evaluate to bool",
                expr.trim()
            ))),
            Err(e) => out.extend(error(format!(
                "expression '{}' resulted in error: {e}",
                expr.trim()
            ))),
        }
    }
    out
}
