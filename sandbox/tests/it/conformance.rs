//! The spec checker catches what it must (a test of the tests), and the sandbox's
//! answers to hand-made requests — the `curl` view — have Sui's shapes.

use daas_protocol::chain::GRAPHQL_DOCUMENTS;
use serde_json::{Value, json};

use crate::world::{params, post, spec, start};

#[test]
fn every_document_the_graphql_client_sends_validates_against_the_schema() {
    let Some(spec) = spec() else { return };
    for (name, doc) in GRAPHQL_DOCUMENTS {
        let v = spec.check_graphql_request(doc, &json!({}));
        // only missing variables may be reported with empty variables
        assert!(
            v.iter()
                .all(|v| v.what.contains("missing value for non-null variable")),
            "{name}: {v:?}"
        );
    }
}

#[test]
fn the_checker_rejects_wrong_shapes() {
    let Some(spec) = spec() else { return };
    assert!(
        !spec
            .check_graphql_request("query { object(address: \"0x1\") { nope } }", &json!({}))
            .is_empty()
    );
    assert!(
        !spec
            .check_jsonrpc_request(
                &json!({"jsonrpc": "2.0", "id": 1, "method": "sui_getObject", "params": [5]})
            )
            .is_empty()
    );
    assert!(
        !spec
            .check_jsonrpc_request(
                &json!({"jsonrpc": "2.0", "id": 1, "method": "sui_noSuchMethod", "params": []})
            )
            .is_empty()
    );
    let q = "query { epoch { referenceGasPrice } checkpoint { sequenceNumber timestamp } }";
    assert!(spec.check_graphql_response(q, &json!({"data": {"epoch": {"referenceGasPrice": "1000"}, "checkpoint": {"sequenceNumber": 3, "timestamp": "2026-11-24T15:34:32.123Z"}}})).is_empty());
    for bad in [
        json!({"data": {"epoch": {"referenceGasPrice": 1000}, "checkpoint": {"sequenceNumber": 3, "timestamp": "2026-11-24T15:34:32.123Z"}}}),
        json!({"data": {"epoch": {"referenceGasPrice": "1000"}, "checkpoint": {"sequenceNumber": "3", "timestamp": "2026-11-24T15:34:32.123Z"}}}),
        json!({"data": {"epoch": {"referenceGasPrice": "1000"}, "checkpoint": {"sequenceNumber": 3, "timestamp": 1795534472123u64}}}),
        json!({"data": {"epoch": {"referenceGasPrice": "1000", "extra": 1}, "checkpoint": null}}),
    ] {
        assert!(
            !spec.check_graphql_response(q, &bad).is_empty(),
            "accepted {bad}"
        );
    }
    let obj = json!({"jsonrpc": "2.0", "id": 1, "result": {"data": {"objectId": "0x6", "version": "x", "digest": "1"}}});
    assert!(
        !spec
            .check_jsonrpc_response("sui_getObject", &obj)
            .is_empty()
    );
}

#[test]
fn the_checker_follows_include_and_skip() {
    let Some(spec) = spec() else { return };
    let q = "query($e: Boolean = false, $s: Boolean!) { epoch { referenceGasPrice @include(if: $e) epochId @skip(if: $s) } }";
    let check = |vars: Value, data: Value| {
        spec.check_graphql_response_with_variables(q, &vars, &json!({ "data": { "epoch": data } }))
    };
    let both = json!({"referenceGasPrice": "1000", "epochId": 0});
    // the default leaves referenceGasPrice out: answering it is a violation
    assert!(!check(json!({"s": false}), both.clone()).is_empty());
    assert!(check(json!({"s": false}), json!({"epochId": 0})).is_empty());
    // included and not skipped: both must be there
    assert!(check(json!({"e": true, "s": false}), both.clone()).is_empty());
    assert!(!check(json!({"e": true, "s": false}), json!({"epochId": 0})).is_empty());
    assert!(!check(json!({"e": true, "s": true}), both).is_empty());
    // without variables either answer is accepted
    assert!(
        spec.check_graphql_response(q, &json!({"data": {"epoch": {}}}))
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_made_requests_get_spec_shaped_answers() {
    let (sb, _stop) = start(params(), None).await;
    let i = &sb.info;
    let rpc = |method: &str, params: Value| json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    let chain = post(&i.rpc_url, rpc("sui_getChainIdentifier", json!([]))).await;
    assert_eq!(
        chain["result"].as_str().unwrap(),
        i.chain_id
            .parse::<daas_protocol::ChainId>()
            .unwrap()
            .jsonrpc_identifier()
    );
    let reg = post(&i.rpc_url, rpc("sui_getObject", json!([i.registry_id.to_string(), {"showContent": true, "showOwner": true, "showType": true}]))).await;
    let fields = &reg["result"]["data"]["content"]["fields"];
    assert_eq!(fields["min_stake"], "1000000000", "u64 as a decimal string");
    assert_eq!(
        fields["envelope_key_cert"].as_array().unwrap().len(),
        105,
        "vector<u8> as numbers"
    );
    assert!(fields["id"]["id"].is_string(), "UID as {{id}}");
    assert_eq!(
        reg["result"]["data"]["owner"]["Shared"]["initial_shared_version"],
        "1"
    );
    let table = fields["workers"]["fields"]["id"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let dfs = post(
        &i.rpc_url,
        rpc("suix_getDynamicFields", json!([table, null, 10])),
    )
    .await;
    assert_eq!(dfs["result"]["data"], json!([]));
    assert_eq!(dfs["result"]["hasNextPage"], false);
    let missing = post(&i.rpc_url, rpc("sui_getObject", json!(["0x1234", {}]))).await;
    assert_eq!(missing["result"]["error"]["code"], "notExists");
    let bad = post(&i.rpc_url, rpc("sui_nope", json!([]))).await;
    assert_eq!(bad["error"]["code"], -32601);

    let gql = post(
        &i.graphql_url,
        json!({"query": "{ chainIdentifier epoch { referenceGasPrice } }"}),
    )
    .await;
    assert_eq!(gql["data"]["chainIdentifier"], i.chain_id.as_str());
    assert_eq!(gql["data"]["epoch"]["referenceGasPrice"], "1000");
    let q = "query($id: SuiAddress!) { object(address: $id) { version asMoveObject { contents { json type { repr } } } } }";
    let obj = post(
        &i.graphql_url,
        json!({"query": q, "variables": {"id": i.registry_id.to_string()}}),
    )
    .await;
    let j = &obj["data"]["object"]["asMoveObject"]["contents"]["json"];
    assert_eq!(obj["data"]["object"]["version"], 1, "UInt53 as a number");
    assert_eq!(j["min_stake"], "1000000000");
    use base64::Engine as _;
    let cert = base64::engine::general_purpose::STANDARD
        .decode(j["envelope_key_cert"].as_str().unwrap())
        .unwrap();
    assert_eq!(cert.len(), 105, "vector<u8> as Base64");
    assert_eq!(j["id"], i.registry_id.to_string(), "UID as a plain string");
    let unknown = post(
        &i.graphql_url,
        json!({"query": "{ serviceConfig { maxPageSize } }"}),
    )
    .await;
    assert!(
        unknown["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not modelled"),
        "{unknown}"
    );
    // the two deliberately wrong requests above are the only departures from the specs
    if spec().is_none() {
        return;
    }
    let v = sb.node.violations.lock().unwrap();
    assert!(
        v.iter().any(|v| v.contains("sui_nope")) && v.iter().any(|v| v.contains("maxPageSize")),
        "{v:?}"
    );
    assert!(
        v.iter()
            .all(|v| v.contains("sui_nope") || v.contains("maxPageSize")),
        "{v:?}"
    );
}
