//! Conversions between every pair of formats, jq, patches, templates and their errors.

use serde_json::json;

use crate::{app, call, refuse};

const FORMATS: [&str; 5] = ["json", "jsonl", "csv", "tsv", "yaml"];

#[tokio::test]
async fn every_pair_of_formats_round_trips_the_same_fixture() {
    let app = app();
    let fixture = json!([{"sku": "A-1", "qty": 12, "price": 9.5, "active": true}, {"sku": "B-2", "qty": 0, "price": 100, "active": false}]);
    let typed = json!({"inferTypes": true});
    for from in FORMATS {
        let written = call(
            &app,
            "convert",
            json!({"data": fixture, "to": from, "csv": typed}),
        )
        .await;
        let text = match from {
            "json" => written["data"].to_string(),
            _ => written["output"].as_str().unwrap().to_owned(),
        };
        for to in FORMATS {
            let converted = call(
                &app,
                "convert",
                json!({"input": text, "from": from, "to": to, "csv": typed}),
            )
            .await;
            let back = match to {
                "json" => converted["data"].clone(),
                _ => call(
                    &app,
                    "convert",
                    json!({"input": converted["output"], "from": to, "to": "json", "csv": typed}),
                )
                .await["data"]
                    .clone(),
            };
            assert_eq!(back, fixture, "{from} -> {to}");
        }
    }
}

#[tokio::test]
async fn csv_to_json_and_toml() {
    let app = app();
    let converted = call(&app, "convert", json!({"input": "name;qty\nbolt;12\n", "from": "csv", "to": "json", "csv": {"delimiter": ";"}})).await;
    assert_eq!(
        converted["data"],
        json!([{"name": "bolt", "qty": "12"}]),
        "text unless inferTypes"
    );
    let toml = call(
        &app,
        "convert",
        json!({"data": {"server": {"port": 8080}}, "to": "toml"}),
    )
    .await;
    assert_eq!(toml["output"], "[server]\nport = 8080\n");
}

#[tokio::test]
async fn malformed_input_gets_its_location() {
    let app = app();
    let error = refuse(
        &app,
        "convert",
        json!({"input": "{\"a\": 1,\n \"b\": }", "from": "json", "to": "yaml"}),
        422,
        "MALFORMED_INPUT",
    )
    .await;
    assert_eq!(
        error["details"][0]["message"],
        "JSON at line 2, column 7: expected value"
    );
    let error = refuse(
        &app,
        "convert",
        json!({"input": "a,b\n1,2\n3\n", "from": "csv", "to": "json"}),
        422,
        "MALFORMED_INPUT",
    )
    .await;
    assert_eq!(
        error["details"][0]["message"],
        "CSV at line 3: a row has 1 fields; the first had 2"
    );
    let error = refuse(
        &app,
        "convert",
        json!({"input": "x", "to": "json"}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "from");
    let error = refuse(
        &app,
        "convert",
        json!({"data": [1], "to": "toml"}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "to");
    let error = refuse(
        &app,
        "convert",
        json!({"data": 1, "to": "pdf"}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "to");
}

#[tokio::test]
async fn jq_queries_json_and_csv() {
    let app = app();
    let orders = json!([{"id": 1, "total": 30}, {"id": 2, "total": 5}, {"id": 3, "total": 12}]);
    let answer = call(
        &app,
        "query",
        json!({"filter": "map(select(.total > 10)) | sort_by(.total) | map(.id)", "data": orders}),
    )
    .await;
    assert_eq!(answer["results"], json!([[3, 1]]));
    let answer = call(
        &app,
        "query",
        json!({"filter": ".[] | .name", "input": "name,qty\nbolt,1\nnut,2\n", "from": "csv"}),
    )
    .await;
    assert_eq!(answer["results"], json!(["bolt", "nut"]));
    let error = refuse(
        &app,
        "query",
        json!({"filter": ".a |", "data": {}}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "filter");
    let error = refuse(
        &app,
        "query",
        json!({"filter": ".a + 1", "data": {"a": "x"}}),
        422,
        "QUERY_FAILED",
    )
    .await;
    assert!(
        error["message"].as_str().unwrap().contains("cannot"),
        "{error}"
    );
}

#[tokio::test]
async fn runaway_filters_are_stopped_and_the_service_keeps_answering() {
    let app = app();
    let started = std::time::Instant::now();
    // An endless loop: killed at its CPU limit or the deadline.
    let looping = app
        .post_json(
            "/api/v1/data/query",
            &json!({"filter": "last(repeat(1))", "data": null}),
        )
        .await;
    let code = looping.json()["error"]["code"].as_str().unwrap().to_owned();
    assert!(
        code == "TIMEOUT" || code == "EXPRESSION_TOO_COMPLEX",
        "{code}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(6));
    // A huge value: stopped by the memory limit long before it hurts the machine.
    let huge = app
        .post_json(
            "/api/v1/data/query",
            &json!({"filter": "[range(1e10)] | length", "data": null}),
        )
        .await;
    let code = huge.json()["error"]["code"].as_str().unwrap().to_owned();
    assert!(
        code == "TIMEOUT" || code == "EXPRESSION_TOO_COMPLEX",
        "{code}"
    );
    // Too many results.
    refuse(
        &app,
        "query",
        json!({"filter": "range(1e6)", "data": null}),
        422,
        "EXPRESSION_TOO_COMPLEX",
    )
    .await;
    assert_eq!(
        call(&app, "query", json!({"filter": "1 + 1", "data": null})).await["results"],
        json!([2])
    );
}

#[tokio::test]
async fn patches_and_templates() {
    let app = app();
    let applied = call(&app, "patch", json!({"operation": "apply", "document": {"foo": "bar"}, "patch": [{"op": "add", "path": "/baz", "value": "qux"}]})).await;
    assert_eq!(applied["result"], json!({"baz": "qux", "foo": "bar"}));
    let diff = call(
        &app,
        "patch",
        json!({"operation": "diff", "from": {"a": 1}, "to": {"a": 2}}),
    )
    .await;
    assert_eq!(
        diff["result"],
        json!([{"op": "replace", "path": "/a", "value": 2}])
    );
    let merged = call(
        &app,
        "patch",
        json!({"operation": "merge", "document": {"a": 1, "b": 2}, "patch": {"b": null, "c": 3}}),
    )
    .await;
    assert_eq!(merged["result"], json!({"a": 1, "c": 3}));
    let error = refuse(&app, "patch", json!({"operation": "apply", "document": {"baz": "qux"}, "patch": [{"op": "test", "path": "/baz", "value": "bar"}]}), 422, "VALIDATION_ERROR").await;
    assert_eq!(error["details"][0]["field"], "patch[0]");

    let rendered = call(&app, "template", json!({"template": "Hi {{ name }}: {{ items|length }} items", "data": {"name": "Ada", "items": [1, 2]}})).await;
    assert_eq!(rendered["output"], "Hi Ada: 2 items");
    let error = refuse(
        &app,
        "template",
        json!({"template": "{% if %}", "data": {}}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "template");
}

#[tokio::test]
async fn raw_files_in_and_out() {
    let app = app();
    let converted = app
        .post_raw(
            "/api/v1/data/convert?to=json&inferTypes=true",
            "text/csv",
            "name,qty\nbolt,12\n",
        )
        .await;
    assert_eq!(converted.status, 200, "{}", converted.text());
    assert_eq!(converted.json(), json!([{"name": "bolt", "qty": 12}]));
    let csv = app
        .post_raw(
            "/api/v1/data/convert?from=jsonl&to=csv",
            "application/octet-stream",
            "{\"a\":1}\n{\"a\":2}\n",
        )
        .await;
    assert_eq!(csv.text(), "a\n1\n2\n");
    let answer = app
        .post_raw(
            "/api/v1/data/query?filter=map(.qty)%20|%20add&inferTypes=true",
            "text/csv",
            "name,qty\nbolt,12\nnut,3\n",
        )
        .await;
    assert_eq!(answer.json()["results"], json!([15]));
    let error = app
        .post_raw(
            "/api/v1/data/convert?to=json",
            "application/octet-stream",
            "x",
        )
        .await
        .error(422, "VALIDATION_ERROR");
    assert_eq!(error["details"][0]["field"], "from");
    let error = app
        .post_raw("/api/v1/data/query?from=csv", "text/plain", "a\n1\n")
        .await
        .error(422, "VALIDATION_ERROR");
    assert_eq!(error["details"][0]["field"], "filter");
}

#[tokio::test]
async fn large_inputs_reach_jq_through_a_private_file_that_is_removed() {
    let app = app();
    let rows: Vec<serde_json::Value> = (0..120_000)
        .map(|i| {
            let region = if i % 2 == 0 { "north" } else { "south" };
            json!({"id": i, "region": region, "total": i % 500})
        })
        .collect();
    let body = serde_json::to_vec(&rows).unwrap();
    assert!(body.len() > flowforge_data_transform::domain::jq::FILE_HANDOFF_BYTES);
    let handoffs = || {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("flowforge-jq-"))
            .count()
    };
    let before = handoffs();
    let answer = app
        .post_raw(
            "/api/v1/data/query?from=json&filter=map(select(.region%20==%20%22south%22))%20|%20length",
            "application/octet-stream",
            body,
        )
        .await
        .ok();
    assert_eq!(answer["results"], json!([60_000]));
    assert_eq!(handoffs(), before, "the handoff file is removed");
}

#[tokio::test]
async fn csv_streams_to_json_in_chunks_and_bad_rows_still_get_422() {
    let app = app();
    let mut csv = String::from("id,name\n");
    for i in 0..30_000 {
        csv.push_str(&format!("{i},\"name, {i}\"\n"));
    }
    let streamed = app
        .post_raw(
            "/api/v1/data/convert?to=json&inferTypes=true",
            "text/csv",
            csv.clone(),
        )
        .await;
    assert_eq!(streamed.status, 200);
    assert!(streamed.body.len() > 2 * 256 * 1024, "several chunks");
    let rows = streamed.json();
    assert_eq!(rows.as_array().unwrap().len(), 30_000);
    assert_eq!(rows[29_999], json!({"id": 29_999, "name": "name, 29999"}));
    let lines = app
        .post_raw("/api/v1/data/convert?to=jsonl", "text/csv", csv)
        .await
        .text();
    assert_eq!(lines.lines().count(), 30_000);

    let error = app
        .post_raw("/api/v1/data/convert?to=json", "text/csv", "a,b\n1,2\n3\n")
        .await
        .error(422, "MALFORMED_INPUT");
    assert_eq!(
        error["details"][0]["message"],
        "CSV at line 3: a row has 1 fields; the first had 2"
    );
}
