//! The registry module's function signatures as Sui's `sui_getNormalizedMoveFunction`
//! reports them (`SuiMoveNormalizedFunction`), built from
//! `daas_protocol::onchain::ENTRY_FUNCTIONS` plus each function's `TxContext` parameter
//! (checked against `move/sources` by a test). SDKs read them to tell `&` from `&mut`
//! and pure arguments from objects.

use daas_protocol::ObjectId;
use daas_protocol::onchain::{self, EntryFunction, Param};
use serde_json::{Value, json};

/// How a function takes the transaction context (the parameter clients never pass).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctx {
    /// No `TxContext` parameter.
    None,
    /// `&TxContext`.
    Ref,
    /// `&mut TxContext`.
    MutRef,
}

/// The `TxContext` parameter of each function, as declared in
/// `move/sources/worker_registry.move`.
pub fn tx_context(function: &str) -> Ctx {
    match function {
        "stake_and_register_worker"
        | "withdraw_stake"
        | "issue_master_cap"
        | "issue_slash_cap"
        | "withdraw_treasury" => Ctx::MutRef,
        "request_join_token" | "rotate_seal_token" | "request_unstake" => Ctx::Ref,
        _ => Ctx::None,
    }
}

fn strukt(address: &str, module: &str, name: &str, args: Vec<Value>) -> Value {
    json!({"Struct": {"address": address, "module": module, "name": name, "typeArguments": args}})
}

fn registry_type(package: &ObjectId, name: &str) -> Value {
    strukt(&package.to_string(), onchain::MODULE, name, vec![])
}

fn reference(t: Value) -> Value {
    json!({ "Reference": t })
}

fn mut_reference(t: Value) -> Value {
    json!({ "MutableReference": t })
}

/// `SuiMoveNormalizedType` of one parameter.
pub fn param_type(package: &ObjectId, p: Param) -> Value {
    match p {
        Param::Registry => reference(registry_type(package, "WorkerRegistry")),
        Param::RegistryMut => mut_reference(registry_type(package, "WorkerRegistry")),
        Param::WorkerMut => mut_reference(registry_type(package, "Worker")),
        Param::WorkerByValue => registry_type(package, "Worker"),
        Param::Coin => strukt(
            "0x2",
            "coin",
            "Coin",
            vec![strukt("0x2", "sui", "SUI", vec![])],
        ),
        Param::AdminCap => reference(registry_type(package, "AdminCap")),
        Param::SlashCap => reference(registry_type(package, "SlashCap")),
        Param::MasterCap => reference(registry_type(package, "MasterCap")),
        Param::Clock => reference(strukt("0x2", "clock", "Clock", vec![])),
        Param::U64 => json!("U64"),
        Param::String => strukt("0x1", "string", "String", vec![]),
        Param::Bytes => json!({"Vector": "U8"}),
        Param::Address => json!("Address"),
        Param::Id => strukt("0x2", "object", "ID", vec![]),
    }
}

/// `SuiMoveNormalizedFunction` of an entry of the table.
pub fn normalized_function(package: &ObjectId, f: &EntryFunction) -> Value {
    let mut params: Vec<Value> = f.params.iter().map(|p| param_type(package, *p)).collect();
    let ctx = strukt("0x2", "tx_context", "TxContext", vec![]);
    match tx_context(f.name) {
        Ctx::None => {}
        Ctx::Ref => params.push(reference(ctx)),
        Ctx::MutRef => params.push(mut_reference(ctx)),
    }
    json!({
        "visibility": "Public",
        "isEntry": false,
        "typeParameters": [],
        "parameters": params,
        "return": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table above says what the Move source declares.
    #[test]
    fn tx_context_parameters_match_the_move_source() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../move/sources/worker_registry.move"
        );
        let src = std::fs::read_to_string(path).expect("the Move package is in the repository");
        for f in onchain::ENTRY_FUNCTIONS {
            let start = src
                .find(&format!("public fun {}(", f.name))
                .unwrap_or_else(|| panic!("{} is declared in the Move source", f.name));
            let sig = &src[start..start + src[start..].find('{').expect("a body")];
            let declared = if sig.contains("&mut TxContext") {
                Ctx::MutRef
            } else if sig.contains("&TxContext") {
                Ctx::Ref
            } else {
                Ctx::None
            };
            assert_eq!(tx_context(f.name), declared, "{}", f.name);
        }
    }

    #[test]
    fn references_and_pure_types_are_suis_spelling() {
        let pkg = ObjectId::from_u64(0xabc);
        let f = onchain::entry_function("stake_and_register_worker").unwrap();
        let n = normalized_function(&pkg, f);
        let p = n["parameters"].as_array().unwrap();
        assert_eq!(p.len(), 6);
        assert_eq!(p[0]["MutableReference"]["Struct"]["name"], "WorkerRegistry");
        assert_eq!(p[1]["Struct"]["typeArguments"][0]["Struct"]["name"], "SUI");
        assert_eq!(p[3], json!({"Vector": "U8"}));
        assert_eq!(p[4]["Reference"]["Struct"]["module"], "clock");
        assert_eq!(p[5]["MutableReference"]["Struct"]["name"], "TxContext");
    }
}
