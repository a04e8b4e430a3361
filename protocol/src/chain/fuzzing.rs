//! The pure decoders behind both clients, callable without a server: what turns a
//! response's JSON into typed values. Only for the fuzz targets (`fuzz/`, feature
//! `fuzzing`); not a stable API.

use serde_json::Value;

#[cfg(feature = "tx")]
use super::ExecOutcome;
use super::{ChainEvent, ObjectInfo};
use crate::ids::ObjectId;

/// JSON-RPC `SuiObjectResponse` (`sui_getObject`, `suix_getDynamicFieldObject`).
pub fn jsonrpc_object(v: &Value) -> Result<Option<ObjectInfo>, String> {
    super::jsonrpc::parse_object_response(v)
}

/// One JSON-RPC `SuiEvent` of `suix_queryEvents`.
pub fn jsonrpc_event(v: &Value, package: &ObjectId) -> Result<ChainEvent, String> {
    super::jsonrpc::parse_event(v, package)
}

/// A JSON-RPC `SuiTransactionBlockResponse` with effects.
#[cfg(feature = "tx")]
pub fn jsonrpc_effects(v: &Value) -> Result<ExecOutcome, String> {
    super::jsonrpc::parse_effects(v)
}

/// A JSON-RPC failure status: the error text and `abortError`.
#[cfg(feature = "tx")]
pub fn jsonrpc_failure(error: &str, abort_error: Option<&Value>) -> super::ExecStatus {
    super::jsonrpc::parse_failure(error, abort_error)
}

/// A GraphQL `Object` (`object(address)`, a dynamic field's value).
pub fn graphql_object(v: &Value) -> Result<Option<ObjectInfo>, String> {
    super::graphql::parse_object(v)
}

/// One edge of a GraphQL `events` connection.
pub fn graphql_event_edge(v: &Value, package: &ObjectId) -> Result<ChainEvent, String> {
    super::graphql::parse_event_edge(v, package)
}

/// The data of a GraphQL `transaction(digest)` query: effects and the next cursor of
/// their object changes.
#[cfg(feature = "tx")]
pub fn graphql_transaction(v: &Value) -> Result<Option<(ExecOutcome, Option<String>)>, String> {
    super::graphql::parse_transaction(v)
}

/// GraphQL's `DateTime` (ISO-8601 UTC) in ms since the epoch.
pub fn iso8601_ms(s: &str) -> Option<u64> {
    super::iso8601_ms(s)
}
