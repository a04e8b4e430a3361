//! `move/sources/worker_registry.move` and `daas_protocol::onchain` agree: every entry
//! function's parameter list, the abort codes, the statuses, the defaults, and the field
//! order and types of the objects and events that clients decode from BCS.
//!
//! The Rust side of the layouts is read from the types themselves: a probing serde
//! `Deserializer` records what each type's `Deserialize` asks for (field names in
//! declaration order, and the shape of each field), so a field added, dropped or moved
//! in either the Move source or `onchain.rs` fails here.

use daas_protocol::onchain::{
    self, Cap, ENTRY_FUNCTIONS, EVENT_NAMES, EnvelopeKeyCertSet, JoinTokenSet, MasterAction,
    MasterActionSkipped, MasterCapChanged, Param, SealTokenRotated, StakeDeposited, StakeWithdrawn,
    Worker, WorkerRegistered, WorkerRegistry, WorkerSlashed, WorkerStatus, WorkerStatusChanged,
    abort, defaults,
};
use serde::de::{self, DeserializeOwned, DeserializeSeed, SeqAccess, Visitor};

fn source() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../move/sources/worker_registry.move"
    );
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// === the Rust side: what a type's `Deserialize` asks for ===

/// The BCS shape of a type.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    Bool,
    U8,
    U64,
    String,
    /// `Vec<T>` / `vector<T>`: a ULEB128 length, then the elements.
    Seq(Box<Shape>),
    /// `[T; N]`: N elements, no length (object ids and addresses).
    Array(usize, Box<Shape>),
    /// A struct: its fields in order.
    Struct(Vec<(String, Shape)>),
}

fn id32() -> Shape {
    Shape::Array(32, Box::new(Shape::U8))
}

/// A `Deserializer` that hands out zero values and writes down what was asked for.
struct Probe<'a>(&'a mut Option<Shape>);

type E = de::value::Error;

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = E;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, E> {
        Err(de::Error::custom(
            "the layout probe knows only the BCS shapes of the registry's types",
        ))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, E> {
        *self.0 = Some(Shape::Bool);
        v.visit_bool(false)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, E> {
        *self.0 = Some(Shape::U8);
        v.visit_u8(0)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, E> {
        *self.0 = Some(Shape::U64);
        v.visit_u64(0)
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, E> {
        *self.0 = Some(Shape::String);
        v.visit_str("")
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, E> {
        self.deserialize_str(v)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, E> {
        let mut elements = Elements::new(1);
        let out = v.visit_seq(&mut elements)?;
        *self.0 = Some(Shape::Seq(Box::new(elements.one())));
        Ok(out)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, E> {
        let mut elements = Elements::new(len);
        let out = v.visit_seq(&mut elements)?;
        *self.0 = Some(Shape::Array(len, Box::new(elements.one())));
        Ok(out)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, E> {
        let mut elements = Elements::new(fields.len());
        let out = v.visit_seq(&mut elements)?;
        *self.0 = Some(Shape::Struct(
            fields
                .iter()
                .map(|f| f.to_string())
                .zip(elements.shapes)
                .collect(),
        ));
        Ok(out)
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u16 u32 u128 f32 f64 char bytes byte_buf option unit
        unit_struct newtype_struct tuple_struct map enum identifier ignored_any
    }
}

/// The elements of a sequence, tuple or struct, each probed in turn.
struct Elements {
    left: usize,
    shapes: Vec<Shape>,
}

impl Elements {
    fn new(len: usize) -> Self {
        Elements {
            left: len,
            shapes: vec![],
        }
    }

    /// The element shape of a homogeneous sequence.
    fn one(self) -> Shape {
        let first = self.shapes[0].clone();
        assert!(self.shapes.iter().all(|s| *s == first), "{:?}", self.shapes);
        first
    }
}

impl<'de> SeqAccess<'de> for &mut Elements {
    type Error = E;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, E> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let mut slot = None;
        let value = seed.deserialize(Probe(&mut slot))?;
        self.shapes
            .push(slot.expect("the element asked for a shape"));
        Ok(Some(value))
    }
}

/// The fields of a Rust struct as its `Deserialize` reads them from BCS.
fn rust_fields<T: DeserializeOwned>() -> Vec<(String, Shape)> {
    let mut slot = None;
    T::deserialize(Probe(&mut slot)).expect("the probe can build the type");
    match slot {
        Some(Shape::Struct(fields)) => fields,
        other => panic!("{} is not a struct: {other:?}", std::any::type_name::<T>()),
    }
}

// === the Move side ===

/// The text between the bracket at `open` and its match, at depth 0 of `()`, `<>`, `{}`.
fn enclosed(src: &str, open: usize) -> &str {
    let mut depth = 0i32;
    for (i, c) in src[open..].char_indices() {
        match c {
            '(' | '<' | '{' => depth += 1,
            ')' | '>' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return &src[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced brackets after byte {open}")
}

/// Splits at commas that are not inside `<>` (`Table<String, ID>`).
fn split_top(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (vec![], String::new(), 0);
    for c in s.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// `name: Type` pairs, with comments dropped.
fn name_type_pairs(list: &str) -> Vec<(String, String)> {
    let no_comments: String = list
        .lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
        .replace("/* owner */", "");
    split_top(&no_comments)
        .into_iter()
        .map(|p| {
            let (n, t) = p
                .split_once(':')
                .unwrap_or_else(|| panic!("no `name: type` in {p:?}"));
            (n.trim().to_string(), t.trim().to_string())
        })
        .collect()
}

/// Field names and Move types of `public struct <name> … { … }`, in declaration order.
fn move_fields(src: &str, name: &str) -> Vec<(String, String)> {
    let start = src
        .find(&format!("public struct {name} "))
        .unwrap_or_else(|| panic!("no struct {name} in the Move source"));
    let open = start + src[start..].find('{').unwrap();
    name_type_pairs(enclosed(src, open))
}

/// The BCS shape of a Move field type of this package.
fn move_shape(ty: &str) -> Shape {
    match ty {
        "bool" => Shape::Bool,
        "u8" => Shape::U8,
        "u64" => Shape::U64,
        "String" => Shape::String,
        "vector<u8>" => Shape::Seq(Box::new(Shape::U8)),
        "address" | "ID" | "UID" => id32(),
        // sui::balance::Balance<T> { value: u64 }
        "Balance<SUI>" => Shape::Struct(vec![("value".into(), Shape::U64)]),
        // sui::table::Table<K, V> { id: UID, size: u64 }
        "Table<String, ID>" => {
            Shape::Struct(vec![("id".into(), id32()), ("size".into(), Shape::U64)])
        }
        // sui::vec_set::VecSet<K> { contents: vector<K> }
        "VecSet<ID>" => Shape::Struct(vec![("contents".into(), Shape::Seq(Box::new(id32())))]),
        other => panic!("move_shape: teach the test the BCS shape of {other}"),
    }
}

/// Every `public fun` of the module: (name, parameter types, returns a value).
fn public_functions(src: &str) -> Vec<(String, Vec<String>, bool)> {
    let mut out = vec![];
    let mut rest = 0;
    while let Some(at) = src[rest..].find("\npublic fun ") {
        let start = rest + at + "\npublic fun ".len();
        let test_only = src[..rest + at].trim_end().ends_with("#[test_only]");
        let open = start + src[start..].find('(').unwrap();
        let name = src[start..open].trim().to_string();
        let params = name_type_pairs(enclosed(src, open))
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        let close = open + 1 + enclosed(src, open).len();
        let returns = src[close + 1..].trim_start().starts_with(':');
        if !test_only {
            out.push((name, params, returns));
        }
        rest = close;
    }
    out
}

fn move_type(p: &Param) -> &'static str {
    match p {
        Param::Registry => "&WorkerRegistry",
        Param::RegistryMut => "&mut WorkerRegistry",
        Param::WorkerMut => "&mut Worker",
        Param::WorkerByValue => "Worker",
        Param::Coin => "Coin<SUI>",
        Param::AdminCap => "&AdminCap",
        Param::SlashCap => "&SlashCap",
        Param::MasterCap => "&MasterCap",
        Param::Clock => "&Clock",
        Param::U64 => "u64",
        Param::String => "String",
        Param::Bytes => "vector<u8>",
        Param::Address => "address",
        Param::Id => "ID",
    }
}

// === the tests ===

#[test]
fn every_entry_function_has_the_parameters_the_builder_and_sandbox_use() {
    let src = source();
    let functions = public_functions(&src);
    for f in ENTRY_FUNCTIONS {
        let (_, params, returns) = functions
            .iter()
            .find(|(n, _, _)| n == f.name)
            .unwrap_or_else(|| panic!("no `public fun {}` in the Move source", f.name));
        let mut got = params.clone();
        if got.last().is_some_and(|t| t.ends_with("TxContext")) {
            got.pop();
        }
        let want: Vec<&str> = f.params.iter().map(move_type).collect();
        assert_eq!(got, want, "parameters of {}", f.name);
        assert!(!returns, "{} returns a value: a view, not an entry", f.name);
    }
    // and the other way: every public function that returns nothing (it acts) is in
    // the table, every one that returns a value (a view) is not
    for (name, _, returns) in &functions {
        let listed = onchain::entry_function(name).is_some();
        assert_eq!(
            listed, !returns,
            "`public fun {name}`: listed in ENTRY_FUNCTIONS = {listed}, returns a value = {returns}"
        );
    }
    assert!(
        functions.len() > ENTRY_FUNCTIONS.len(),
        "the views were found"
    );
}

#[test]
fn abort_codes_statuses_actions_and_defaults_are_the_same_numbers() {
    let src = source();
    for code in 1..=12u64 {
        let name = abort::name(code).unwrap();
        assert!(
            src.contains(&format!("const {name}: u64 = {code};")),
            "{name} = {code} missing in Move"
        );
    }
    assert_eq!(abort::name(13), None);
    for (name, s) in [
        ("PENDING", WorkerStatus::Pending),
        ("TOKEN_ISSUED", WorkerStatus::TokenIssued),
        ("ACTIVE", WorkerStatus::Active),
        ("LEAVING", WorkerStatus::Leaving),
        ("SLASHED", WorkerStatus::Slashed),
        ("REVOKED", WorkerStatus::Revoked),
    ] {
        let v = s as u8;
        assert!(
            src.contains(&format!("const STATUS_{name}: u8 = {v};")),
            "STATUS_{name} = {v} missing in Move"
        );
    }
    for (name, a) in [
        ("SET_JOIN_TOKEN", MasterAction::SetJoinToken),
        ("ACTIVATE", MasterAction::Activate),
        ("CONFIRM_REVOKED", MasterAction::ConfirmRevoked),
    ] {
        let v = a as u8;
        assert!(
            src.contains(&format!("const ACTION_{name}: u8 = {v};")),
            "ACTION_{name} = {v} missing in Move"
        );
    }
    let constant = |name: &str| -> u64 {
        let at = src
            .find(&format!("const {name}: u64 = "))
            .unwrap_or_else(|| panic!("no const {name}"));
        let rest = &src[at..];
        let value = &rest[rest.find('=').unwrap() + 1..rest.find(';').unwrap()];
        value.trim().replace('_', "").parse().unwrap()
    };
    assert_eq!(constant("DEFAULT_MIN_STAKE"), defaults::MIN_STAKE);
    assert_eq!(constant("DEFAULT_COOLDOWN_MS"), defaults::COOLDOWN_MS);
    assert_eq!(
        constant("DEFAULT_REVOKE_GRACE_MS"),
        defaults::REVOKE_GRACE_MS
    );
    assert_eq!(
        constant("DEFAULT_MAX_ENVELOPE_TTL_MS"),
        defaults::MAX_ENVELOPE_TTL_MS
    );
    assert_eq!(constant("MAX_DURATION_MS"), defaults::MAX_COOLDOWN_MS);
    assert_eq!(
        constant("MAX_SLASH_REASON_LEN"),
        defaults::MAX_SLASH_REASON_LEN as u64
    );
    assert!(src.contains("registration_fee: 0,"), "default fee is 0");
    assert_eq!(defaults::REGISTRATION_FEE, 0);
}

#[test]
fn struct_fields_are_in_the_order_and_shape_clients_decode() {
    let src = source();
    let cases: Vec<(&str, Vec<(String, Shape)>)> = vec![
        ("WorkerRegistry", rust_fields::<WorkerRegistry>()),
        ("Worker", rust_fields::<Worker>()),
        ("AdminCap", rust_fields::<Cap>()),
        ("SlashCap", rust_fields::<Cap>()),
        ("MasterCap", rust_fields::<Cap>()),
        (EVENT_NAMES[0], rust_fields::<WorkerRegistered>()),
        (EVENT_NAMES[1], rust_fields::<StakeDeposited>()),
        (EVENT_NAMES[2], rust_fields::<JoinTokenSet>()),
        (EVENT_NAMES[3], rust_fields::<MasterActionSkipped>()),
        (EVENT_NAMES[4], rust_fields::<WorkerStatusChanged>()),
        (EVENT_NAMES[5], rust_fields::<WorkerSlashed>()),
        (EVENT_NAMES[6], rust_fields::<StakeWithdrawn>()),
        (EVENT_NAMES[7], rust_fields::<SealTokenRotated>()),
        (EVENT_NAMES[8], rust_fields::<EnvelopeKeyCertSet>()),
        (EVENT_NAMES[9], rust_fields::<MasterCapChanged>()),
    ];
    for (name, rust) in &cases {
        let want: Vec<(String, Shape)> = move_fields(&src, name)
            .into_iter()
            .map(|(n, t)| (n, move_shape(&t)))
            .collect();
        let names = |v: &[(String, Shape)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(rust), names(&want), "field order of {name}");
        assert_eq!(rust, &want, "field types of {name}");
    }
    // the ten events are all the Move package's events, and every one starts with the
    // registry and ends with the timestamp (DESIGN §6)
    let mut move_events: Vec<&str> = src
        .match_indices("public struct ")
        .map(|(at, _)| {
            let rest = &src[at + "public struct ".len()..];
            &rest[..rest.find(' ').unwrap()]
        })
        .filter(|n| n.ends_with("Event"))
        .collect();
    move_events.sort_unstable();
    let mut ours = EVENT_NAMES.to_vec();
    ours.sort_unstable();
    assert_eq!(move_events, ours);
    for (name, rust) in &cases[5..] {
        assert_eq!(rust.first().unwrap().0, "registry_id", "{name}");
        assert_eq!(rust.last().unwrap().0, "timestamp_ms", "{name}");
    }
}

#[test]
fn the_probe_sees_a_moved_field() {
    // the probe is what the test above relies on: it reads declaration order, so two
    // structs that differ only in field order give different layouts
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct A {
        x: u64,
        y: Vec<u8>,
    }
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct B {
        y: Vec<u8>,
        x: u64,
    }
    assert_eq!(
        rust_fields::<A>(),
        vec![
            ("x".to_string(), Shape::U64),
            ("y".to_string(), Shape::Seq(Box::new(Shape::U8)))
        ]
    );
    assert_ne!(rust_fields::<A>(), rust_fields::<B>());
    assert_eq!(
        move_fields(
            "public struct T has key { id: UID, t: Table<String, ID>, n: u64 }",
            "T"
        ),
        vec![
            ("id".to_string(), "UID".to_string()),
            ("t".to_string(), "Table<String, ID>".to_string()),
            ("n".to_string(), "u64".to_string()),
        ]
    );
}
