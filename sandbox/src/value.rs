//! A Move value model with Sui's three renderings: BCS, JSON-RPC `fields` /
//! `parsedJson`, and GraphQL `MoveValue.json` (SUI-WIRE §2, §3, §6).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

/// A Move value of the types this contract uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveValue {
    /// `bool`.
    Bool(bool),
    /// `u8`.
    U8(u8),
    /// `u64`.
    U64(u64),
    /// `address` / `ID`.
    Address([u8; 32]),
    /// `UID`.
    Uid([u8; 32]),
    /// `std::string::String`.
    String(String),
    /// `vector<u8>`.
    Bytes(Vec<u8>),
    /// `vector<T>` of other types.
    Vector(Vec<MoveValue>),
    /// `Balance<SUI>` (rendered as a string, as Sui does).
    Balance(u64),
    /// A struct: its full type and fields in declaration order.
    Struct {
        /// Full Move type.
        type_: String,
        /// Fields.
        fields: Vec<(&'static str, MoveValue)>,
    },
}

fn hex0x(b: &[u8; 32]) -> String {
    format!("0x{}", hex::encode(b))
}

impl MoveValue {
    /// BCS bytes.
    pub fn to_bcs(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_bcs(&mut out);
        out
    }

    fn write_bcs(&self, out: &mut Vec<u8>) {
        fn uleb(mut n: usize, out: &mut Vec<u8>) {
            loop {
                let b = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    out.push(b);
                    return;
                }
                out.push(b | 0x80);
            }
        }
        match self {
            MoveValue::Bool(b) => out.push(*b as u8),
            MoveValue::U8(v) => out.push(*v),
            MoveValue::U64(v) | MoveValue::Balance(v) => out.extend_from_slice(&v.to_le_bytes()),
            MoveValue::Address(a) | MoveValue::Uid(a) => out.extend_from_slice(a),
            MoveValue::String(s) => {
                uleb(s.len(), out);
                out.extend_from_slice(s.as_bytes());
            }
            MoveValue::Bytes(b) => {
                uleb(b.len(), out);
                out.extend_from_slice(b);
            }
            MoveValue::Vector(items) => {
                uleb(items.len(), out);
                for i in items {
                    i.write_bcs(out);
                }
            }
            MoveValue::Struct { fields, .. } => {
                for (_, f) in fields {
                    f.write_bcs(out);
                }
            }
        }
    }

    /// JSON-RPC rendering: object `content.fields` (`nested_types`: inner structs as
    /// `{type, fields}`) or event `parsedJson` (inner structs as plain maps).
    pub fn to_jsonrpc(&self, nested_types: bool) -> Value {
        match self {
            MoveValue::Bool(b) => json!(b),
            MoveValue::U8(v) => json!(v),
            MoveValue::U64(v) | MoveValue::Balance(v) => json!(v.to_string()),
            MoveValue::Address(a) => json!(hex0x(a)),
            MoveValue::Uid(a) => json!({"id": hex0x(a)}),
            MoveValue::String(s) => json!(s),
            MoveValue::Bytes(b) => json!(b),
            MoveValue::Vector(items) => {
                Value::Array(items.iter().map(|i| i.to_jsonrpc(nested_types)).collect())
            }
            MoveValue::Struct { type_, fields } => {
                let map: Map<String, Value> = fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_jsonrpc(nested_types)))
                    .collect();
                if nested_types {
                    json!({"type": type_, "fields": map})
                } else {
                    Value::Object(map)
                }
            }
        }
    }

    /// The top-level `fields` map of a struct for JSON-RPC object content.
    pub fn jsonrpc_fields(&self) -> Value {
        match self {
            MoveValue::Struct { fields, .. } => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_jsonrpc(true)))
                    .collect(),
            ),
            other => other.to_jsonrpc(true),
        }
    }

    /// GraphQL `MoveValue.json`: addresses, IDs and UIDs as strings, u64 as strings,
    /// `vector<u8>` as Base64, structs as plain objects.
    pub fn to_graphql(&self) -> Value {
        match self {
            MoveValue::Bool(b) => json!(b),
            MoveValue::U8(v) => json!(v),
            MoveValue::U64(v) | MoveValue::Balance(v) => json!(v.to_string()),
            MoveValue::Address(a) | MoveValue::Uid(a) => json!(hex0x(a)),
            MoveValue::String(s) => json!(s),
            MoveValue::Bytes(b) => json!(BASE64.encode(b)),
            MoveValue::Vector(items) => {
                Value::Array(items.iter().map(MoveValue::to_graphql).collect())
            }
            MoveValue::Struct { fields, .. } => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_graphql()))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renderings_follow_sui_rules() {
        let v = MoveValue::Struct {
            type_: "0x1::m::S".into(),
            fields: vec![
                ("id", MoveValue::Uid([0xaa; 32])),
                ("n", MoveValue::U64(42)),
                ("b", MoveValue::Bytes(vec![0xde, 0xad])),
                ("s", MoveValue::String("abc".into())),
                (
                    "t",
                    MoveValue::Struct {
                        type_: "0x2::table::Table<u8, u8>".into(),
                        fields: vec![("size", MoveValue::U64(2))],
                    },
                ),
            ],
        };
        let j = v.jsonrpc_fields();
        assert_eq!(j["id"]["id"], hex0x(&[0xaa; 32]));
        assert_eq!(j["n"], "42");
        assert_eq!(j["b"], json!([222, 173]));
        assert_eq!(j["t"]["type"], "0x2::table::Table<u8, u8>");
        assert_eq!(j["t"]["fields"]["size"], "2");
        let g = v.to_graphql();
        assert_eq!(g["id"], hex0x(&[0xaa; 32]));
        assert_eq!(g["b"], "3q0=");
        assert_eq!(g["t"]["size"], "2");
        let b = v.to_bcs();
        assert_eq!(b.len(), 32 + 8 + 3 + 4 + 8);
    }
}
