pub fn handle(_n: &crate::server::Node, _r: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({})
}
