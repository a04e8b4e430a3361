//! The resources the stand-in serves, their discovery entries, and per-kind rules:
//! decoding through the `k8s-openapi` type (the real JSON shape), the apiserver's
//! validation that matters here (names, Secret/ConfigMap keys and immutability), and
//! which fields the field selector supports.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::selector::{is_dns_label, is_dns_subdomain};
use super::status::{ApiError, FieldError};

/// One served resource.
#[derive(Debug)]
pub struct Resource {
    /// API group ("" for core).
    pub group: &'static str,
    /// Version.
    pub version: &'static str,
    /// Plural (URL segment).
    pub plural: &'static str,
    /// Singular.
    pub singular: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// kubectl short names.
    pub short_names: &'static [&'static str],
    /// Has a `status` subresource (the main resource ignores status writes).
    pub status: bool,
    /// PUT to a missing name creates it (`AllowCreateOnUpdate`).
    pub create_on_update: bool,
    /// The apiserver keeps `metadata.generation` (spec changes bump it).
    pub generation: bool,
    /// Fields the field selector accepts.
    pub field_selectors: &'static [&'static str],
}

/// Index of Namespaces in [`RESOURCES`].
pub const NAMESPACES: usize = 0;
/// Index of Nodes.
pub const NODES: usize = 1;
/// Index of Secrets.
pub const SECRETS: usize = 2;
/// Index of ConfigMaps.
pub const CONFIGMAPS: usize = 3;
/// Index of Leases.
pub const LEASES: usize = 4;
/// Index of ValidatingAdmissionPolicies.
pub const VAPS: usize = 5;
/// Index of ValidatingAdmissionPolicyBindings.
pub const VAPBS: usize = 6;

const META: &[&str] = &["metadata.name", "metadata.namespace"];

/// Every served resource.
pub static RESOURCES: [Resource; 7] = [
    Resource {
        group: "",
        version: "v1",
        plural: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        short_names: &["ns"],
        status: true,
        create_on_update: false,
        generation: false,
        field_selectors: &["metadata.name", "status.phase"],
    },
    Resource {
        group: "",
        version: "v1",
        plural: "nodes",
        singular: "node",
        kind: "Node",
        namespaced: false,
        short_names: &["no"],
        status: true,
        create_on_update: false,
        generation: false,
        field_selectors: &["metadata.name", "spec.unschedulable"],
    },
    Resource {
        group: "",
        version: "v1",
        plural: "secrets",
        singular: "secret",
        kind: "Secret",
        namespaced: true,
        short_names: &[],
        status: false,
        create_on_update: false,
        generation: false,
        field_selectors: &["metadata.name", "metadata.namespace", "type"],
    },
    Resource {
        group: "",
        version: "v1",
        plural: "configmaps",
        singular: "configmap",
        kind: "ConfigMap",
        namespaced: true,
        short_names: &["cm"],
        status: false,
        create_on_update: false,
        generation: false,
        field_selectors: META,
    },
    Resource {
        group: "coordination.k8s.io",
        version: "v1",
        plural: "leases",
        singular: "lease",
        kind: "Lease",
        namespaced: true,
        short_names: &[],
        status: false,
        create_on_update: true,
        generation: false,
        field_selectors: META,
    },
    Resource {
        group: "admissionregistration.k8s.io",
        version: "v1",
        plural: "validatingadmissionpolicies",
        singular: "validatingadmissionpolicy",
        kind: "ValidatingAdmissionPolicy",
        namespaced: false,
        short_names: &[],
        status: true,
        create_on_update: false,
        generation: true,
        field_selectors: &["metadata.name"],
    },
    Resource {
        group: "admissionregistration.k8s.io",
        version: "v1",
        plural: "validatingadmissionpolicybindings",
        singular: "validatingadmissionpolicybinding",
        kind: "ValidatingAdmissionPolicyBinding",
        namespaced: false,
        short_names: &[],
        status: false,
        create_on_update: false,
        generation: true,
        field_selectors: &["metadata.name"],
    },
];

/// The resource at `idx`.
pub fn resource_by_id(idx: usize) -> &'static Resource {
    &RESOURCES[idx]
}

impl Resource {
    /// `<group>/<plural>` (stable id for persistence).
    pub fn id(&self) -> String {
        format!("{}/{}", self.group, self.plural)
    }

    /// `apiVersion` of its objects.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The discovery (`APIResource`) entries: the resource and its status subresource.
    pub fn discovery(&self) -> Vec<Value> {
        let mut out = vec![json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            "shortNames": self.short_names,
        })];
        if self.status {
            out.push(json!({
                "name": format!("{}/status", self.plural),
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        out
    }

    /// The field values a field selector can test on `obj`.
    pub fn fields<'a>(&self, obj: &'a Value) -> BTreeMap<&'static str, String> {
        let s = |v: &'a Value| v.as_str().unwrap_or_default().to_owned();
        let mut f = BTreeMap::new();
        f.insert("metadata.name", s(&obj["metadata"]["name"]));
        f.insert("metadata.namespace", s(&obj["metadata"]["namespace"]));
        match self.kind {
            "Secret" => {
                f.insert("type", s(&obj["type"]));
            }
            "Namespace" => {
                f.insert("status.phase", s(&obj["status"]["phase"]));
            }
            "Node" => {
                f.insert(
                    "spec.unschedulable",
                    obj["spec"]["unschedulable"]
                        .as_bool()
                        .unwrap_or(false)
                        .to_string(),
                );
            }
            _ => {}
        }
        f
    }

    /// Decodes `body` through the k8s-openapi type (defaulting `apiVersion`/`kind`,
    /// normalising Secret `stringData` into `data`) and checks name and content rules.
    pub fn decode(&self, body: &Value) -> Result<Value, ApiError> {
        let bad = |e: serde_json::Error| {
            ApiError::bad_request(format!("error decoding {}: {e}", self.kind))
        };
        let mut body = body.clone();
        if !body.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request was in an unknown format - accepted media types include: application/json"
                    .to_string(),
            ));
        }
        if let Some(av) = body.get("apiVersion").and_then(Value::as_str)
            && av != self.api_version()
        {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({})",
                self.api_version()
            )));
        }
        if let Some(k) = body.get("kind").and_then(Value::as_str)
            && k != self.kind
        {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                self.kind
            )));
        }
        body["apiVersion"] = json!(self.api_version());
        body["kind"] = json!(self.kind);
        use k8s_openapi::api::{
            admissionregistration::v1 as ar, coordination::v1 as co, core::v1 as core,
        };
        let out = match self.kind {
            "Namespace" => {
                serde_json::to_value(serde_json::from_value::<core::Namespace>(body).map_err(bad)?)
            }
            "Node" => {
                serde_json::to_value(serde_json::from_value::<core::Node>(body).map_err(bad)?)
            }
            "Secret" => {
                let mut s: core::Secret = serde_json::from_value(body).map_err(bad)?;
                if let Some(sd) = s.string_data.take() {
                    let data = s.data.get_or_insert_with(BTreeMap::new);
                    for (k, v) in sd {
                        data.insert(k, k8s_openapi::ByteString(v.into_bytes()));
                    }
                }
                serde_json::to_value(s)
            }
            "ConfigMap" => {
                serde_json::to_value(serde_json::from_value::<core::ConfigMap>(body).map_err(bad)?)
            }
            "Lease" => {
                serde_json::to_value(serde_json::from_value::<co::Lease>(body).map_err(bad)?)
            }
            "ValidatingAdmissionPolicy" => serde_json::to_value(
                serde_json::from_value::<ar::ValidatingAdmissionPolicy>(body).map_err(bad)?,
            ),
            "ValidatingAdmissionPolicyBinding" => serde_json::to_value(
                serde_json::from_value::<ar::ValidatingAdmissionPolicyBinding>(body)
                    .map_err(bad)?,
            ),
            other => unreachable!("no decoder for {other}"),
        }
        .map_err(ApiError::internal)?;
        Ok(out)
    }

    /// Validation on create (and, with `old`, on update): field errors become 422.
    pub fn validate(&self, obj: &Value, old: Option<&Value>) -> Result<(), ApiError> {
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        let mut errs = Vec::new();
        if name.is_empty() {
            errs.push(FieldError::required(
                "metadata.name",
                "name or generateName is required",
            ));
        } else if self.kind == "Namespace" {
            if !is_dns_label(name) {
                errs.push(FieldError::invalid(
                    "metadata.name",
                    name,
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                ));
            }
        } else if !is_dns_subdomain(name) {
            errs.push(FieldError::invalid(
                "metadata.name",
                name,
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            ));
        }
        if matches!(self.kind, "Secret" | "ConfigMap") {
            for field in ["data", "binaryData"] {
                if let Some(m) = obj[field].as_object() {
                    for k in m.keys() {
                        let ok = !k.is_empty()
                            && k.len() <= 253
                            && k.bytes().all(|b| {
                                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
                            })
                            && k != "."
                            && k != ".."
                            && !k.starts_with("..");
                        if !ok {
                            errs.push(FieldError::invalid(
                                &format!("{field}[{k}]"),
                                k,
                                "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                            ));
                        }
                    }
                }
            }
            // k8s.io/kubernetes/pkg/apis/core/validation: ValidateSecretUpdate / ValidateConfigMapUpdate.
            if let Some(old) = old
                && old["immutable"].as_bool() == Some(true)
            {
                if obj["immutable"].as_bool() != Some(true) {
                    errs.push(FieldError::forbidden(
                        "immutable",
                        "field is immutable when `immutable` is set",
                    ));
                }
                for field in ["data", "binaryData"] {
                    if self.kind == "Secret" && field == "binaryData" {
                        continue;
                    }
                    if norm_map(&obj[field]) != norm_map(&old[field]) {
                        errs.push(FieldError::forbidden(
                            field,
                            "field is immutable when `immutable` is set",
                        ));
                    }
                }
            }
            if self.kind == "Secret"
                && let Some(old) = old
                && obj["type"] != old["type"]
            {
                errs.push(FieldError::invalid(
                    "type",
                    obj["type"].as_str().unwrap_or_default(),
                    "field is immutable",
                ));
            }
        }
        if self.kind == "ValidatingAdmissionPolicyBinding"
            && obj["spec"]["policyName"].as_str().unwrap_or("").is_empty()
        {
            errs.push(FieldError::required("spec.policyName", ""));
        }
        if self.kind == "ValidatingAdmissionPolicyBinding" {
            let actions = obj["spec"]["validationActions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if actions.is_empty() {
                errs.push(FieldError::required("spec.validationActions", ""));
            }
            for a in &actions {
                let a = a.as_str().unwrap_or_default();
                if !matches!(a, "Deny" | "Warn" | "Audit") {
                    errs.push(FieldError::not_supported(
                        "spec.validationActions",
                        a,
                        &["Audit", "Deny", "Warn"],
                    ));
                }
            }
            let pr = &obj["spec"]["paramRef"];
            if pr.is_object() {
                if pr["name"].is_string() && pr["selector"].is_object() {
                    errs.push(FieldError::forbidden(
                        "spec.paramRef.name",
                        "name and selector are mutually exclusive",
                    ));
                }
                match pr["parameterNotFoundAction"].as_str() {
                    Some("Allow" | "Deny") => {}
                    None => errs.push(FieldError::required(
                        "spec.paramRef.parameterNotFoundAction",
                        "",
                    )),
                    Some(o) => errs.push(FieldError::not_supported(
                        "spec.paramRef.parameterNotFoundAction",
                        o,
                        &["Allow", "Deny"],
                    )),
                }
            }
        }
        if self.kind == "ValidatingAdmissionPolicy" {
            let v = &obj["spec"]["validations"];
            let aa = &obj["spec"]["auditAnnotations"];
            if v.as_array().is_none_or(Vec::is_empty) && aa.as_array().is_none_or(Vec::is_empty) {
                errs.push(FieldError::required(
                    "spec.validations",
                    "validations or auditAnnotations must contain at least one item",
                ));
            }
            if let Some(vs) = v.as_array() {
                for (i, val) in vs.iter().enumerate() {
                    let e = val["expression"].as_str().unwrap_or_default();
                    if e.trim().is_empty() {
                        errs.push(FieldError::required(
                            &format!("spec.validations[{i}].expression"),
                            "",
                        ));
                    } else if let Err(err) = cel::Program::compile(e) {
                        errs.push(FieldError::invalid(
                            &format!("spec.validations[{i}].expression"),
                            e,
                            &format!("compilation failed: {err}"),
                        ));
                    }
                }
            }
            if obj["spec"]["matchConstraints"].is_null() {
                errs.push(FieldError::required("spec.matchConstraints", ""));
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(self.group, self.kind, name, errs))
        }
    }
}

fn norm_map(v: &Value) -> Value {
    match v {
        Value::Object(m) if m.is_empty() => Value::Null,
        other => other.clone(),
    }
}

/// The resource with `plural` in `group/version`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<usize> {
    RESOURCES
        .iter()
        .position(|r| r.group == group && r.version == version && r.plural == plural)
}
