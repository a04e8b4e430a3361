//! Kubernetes `Status` errors, with the apiserver's reasons, codes and message formats
//! (`k8s.io/apimachinery/pkg/api/errors/errors.go`).

use serde_json::{Value, json};

/// An API failure: becomes a `Status` body with the same code.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `Status.reason` (`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, ...).
    pub reason: &'static str,
    /// `Status.message`.
    pub message: String,
    /// `Status.details`, if any.
    pub details: Option<Value>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

/// `resource[.group]` as the apiserver writes a GroupResource.
pub fn group_resource(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_owned()
    } else {
        format!("{plural}.{group}")
    }
}

fn details(group: &str, kind: &str, name: &str) -> Value {
    let mut d = json!({ "name": name, "kind": kind });
    if !group.is_empty() {
        d["group"] = json!(group);
    }
    d
}

impl ApiError {
    /// The `Status` JSON.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }

    /// 404 `<resource> "<name>" not found`.
    pub fn not_found(group: &str, plural: &str, name: &str) -> Self {
        Self {
            code: 404,
            reason: "NotFound",
            message: format!("{} \"{name}\" not found", group_resource(group, plural)),
            details: Some(details(group, plural, name)),
        }
    }

    /// 404 for a path the server does not serve, naming what it is.
    pub fn no_route(what: impl std::fmt::Display) -> Self {
        Self {
            code: 404,
            reason: "NotFound",
            message: format!("the server could not find the requested resource ({what})"),
            details: Some(json!({})),
        }
    }

    /// 409 AlreadyExists.
    pub fn already_exists(group: &str, plural: &str, name: &str) -> Self {
        Self {
            code: 409,
            reason: "AlreadyExists",
            message: format!(
                "{} \"{name}\" already exists",
                group_resource(group, plural)
            ),
            details: Some(details(group, plural, name)),
        }
    }

    /// 409 Conflict on a stale resourceVersion.
    pub fn conflict(group: &str, plural: &str, name: &str, why: &str) -> Self {
        Self {
            code: 409,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                group_resource(group, plural)
            ),
            details: Some(details(group, plural, name)),
        }
    }

    /// The stale-resourceVersion conflict message.
    pub const MODIFIED: &'static str = "the object has been modified; please apply your changes to the latest version and try again";

    /// 422 Invalid: `<Kind> "<name>" is invalid: <field errors>`.
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<FieldError>) -> Self {
        let list: Vec<String> = causes.iter().map(FieldError::to_string).collect();
        let joined = if list.len() == 1 {
            list[0].clone()
        } else {
            format!("[{}]", list.join(", "))
        };
        let mut d = details(group, kind, name);
        d["causes"] = Value::Array(
            causes
                .iter()
                .map(|c| json!({ "reason": c.reason(), "message": c.detail_message(), "field": c.field }))
                .collect(),
        );
        let qualified = if group.is_empty() {
            kind.to_owned()
        } else {
            format!("{kind}.{group}")
        };
        Self {
            code: 422,
            reason: "Invalid",
            message: format!("{qualified} \"{name}\" is invalid: {joined}"),
            details: Some(d),
        }
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            code: 400,
            reason: "BadRequest",
            message: message.into(),
            details: None,
        }
    }

    /// 401 Unauthorized, as the apiserver answers a request it cannot authenticate.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self {
            code: 401,
            reason: "Unauthorized",
            message: message.into(),
            details: None,
        }
    }

    /// 403 Forbidden with a ready message.
    pub fn forbidden_message(message: impl Into<String>, details: Option<Value>) -> Self {
        Self {
            code: 403,
            reason: "Forbidden",
            message: message.into(),
            details,
        }
    }

    /// 403 `<resource> "<name>" is forbidden: <why>` (`NewForbidden`).
    pub fn forbidden(group: &str, plural: &str, name: &str, why: &str) -> Self {
        let gr = group_resource(group, plural);
        let message = if name.is_empty() {
            format!("{gr} is forbidden: {why}")
        } else {
            format!("{gr} \"{name}\" is forbidden: {why}")
        };
        Self::forbidden_message(message, Some(details(group, plural, name)))
    }

    /// 405.
    pub fn method_not_allowed() -> Self {
        Self {
            code: 405,
            reason: "MethodNotAllowed",
            message: "the server does not allow this method on the requested resource".into(),
            details: Some(json!({})),
        }
    }

    /// 410 Gone: the resourceVersion was compacted away.
    pub fn gone(message: impl Into<String>) -> Self {
        Self {
            code: 410,
            reason: "Expired",
            message: message.into(),
            details: None,
        }
    }

    /// 415.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self {
            code: 415,
            reason: "UnsupportedMediaType",
            message: message.into(),
            details: None,
        }
    }

    /// 500.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self {
            code: 500,
            reason: "InternalError",
            message: format!("Internal error occurred: {message}"),
            details: None,
        }
    }

    /// 504 Timeout.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self {
            code: 504,
            reason: "Timeout",
            message: message.into(),
            details: None,
        }
    }
}

/// One field error (`k8s.io/apimachinery/pkg/util/validation/field`).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The field path, e.g. `metadata.name`.
    pub field: String,
    /// What kind of error.
    pub kind: FieldErrorKind,
}

/// The field error types the stand-in raises.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldErrorKind {
    /// `Invalid value: "<v>": <detail>`.
    Invalid(String, String),
    /// `Forbidden: <detail>`.
    Forbidden(String),
    /// `Required value[: <detail>]`.
    Required(String),
    /// `Unsupported value: "<v>": supported values: ...`.
    NotSupported(String, Vec<String>),
}

impl FieldError {
    /// `Invalid value`.
    pub fn invalid(field: &str, value: &str, detail: &str) -> Self {
        Self {
            field: field.into(),
            kind: FieldErrorKind::Invalid(value.into(), detail.into()),
        }
    }
    /// `Forbidden`.
    pub fn forbidden(field: &str, detail: &str) -> Self {
        Self {
            field: field.into(),
            kind: FieldErrorKind::Forbidden(detail.into()),
        }
    }
    /// `Required value`.
    pub fn required(field: &str, detail: &str) -> Self {
        Self {
            field: field.into(),
            kind: FieldErrorKind::Required(detail.into()),
        }
    }
    /// `Unsupported value`.
    pub fn not_supported(field: &str, value: &str, supported: &[&str]) -> Self {
        Self {
            field: field.into(),
            kind: FieldErrorKind::NotSupported(
                value.into(),
                supported.iter().map(|s| (*s).to_owned()).collect(),
            ),
        }
    }

    fn reason(&self) -> &'static str {
        match self.kind {
            FieldErrorKind::Invalid(..) => "FieldValueInvalid",
            FieldErrorKind::Forbidden(_) => "FieldValueForbidden",
            FieldErrorKind::Required(_) => "FieldValueRequired",
            FieldErrorKind::NotSupported(..) => "FieldValueNotSupported",
        }
    }

    fn detail_message(&self) -> String {
        match &self.kind {
            FieldErrorKind::Invalid(v, d) => format!("Invalid value: \"{v}\": {d}"),
            FieldErrorKind::Forbidden(d) => format!("Forbidden: {d}"),
            FieldErrorKind::Required(d) if d.is_empty() => "Required value".into(),
            FieldErrorKind::Required(d) => format!("Required value: {d}"),
            FieldErrorKind::NotSupported(v, s) => format!(
                "Unsupported value: \"{v}\": supported values: {}",
                s.iter()
                    .map(|x| format!("\"{x}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.detail_message())
    }
}
