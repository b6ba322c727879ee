//! Records pipelines, comparisons, schemas, dates, text, XML/XLSX/HTML/Markdown and the other
//! query languages, through the router.

use serde_json::{Value, json};

use crate::{app, call, refuse};

/// Formats that hold records of text exactly (XML shapes data its own way: tested apart).
const TABLE_FORMATS: [&str; 8] = [
    "json", "jsonl", "csv", "tsv", "yaml", "html", "markdown", "xlsx",
];

/// `output` as the next request's `input`: JSON data as text, the rest as they came.
fn as_input(written: &Value, format: &str) -> String {
    match format {
        "json" => written["data"].to_string(),
        _ => written["output"].as_str().unwrap().to_owned(),
    }
}

#[tokio::test]
async fn every_pair_of_table_formats_round_trips_the_same_records() {
    let app = app();
    let fixture = json!([
        {"sku": "A-1", "name": "Bolt, \"hex\"", "qty": "12"},
        {"sku": "B|2", "name": "Nut & <washer>", "qty": ""}
    ]);
    for from in TABLE_FORMATS {
        let written = call(&app, "convert", json!({"data": fixture, "to": from})).await;
        if from == "xlsx" {
            assert_eq!(written["encoding"], "base64");
        }
        let input = as_input(&written, from);
        for to in TABLE_FORMATS {
            let converted = call(
                &app,
                "convert",
                json!({"input": input, "from": from, "to": to}),
            )
            .await;
            let back = match to {
                "json" => converted["data"].clone(),
                _ => call(
                    &app,
                    "convert",
                    json!({"input": as_input(&converted, to), "from": to, "to": "json"}),
                )
                .await["data"]
                    .clone(),
            };
            // Empty cells come back empty: "" in text tables, null from a spreadsheet.
            let back = normalize_empty(back);
            assert_eq!(back, normalize_empty(fixture.clone()), "{from} -> {to}");
        }
    }
}

fn normalize_empty(value: Value) -> Value {
    match value {
        Value::Null => json!(""),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize_empty).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, normalize_empty(v)))
                .collect(),
        ),
        other => other,
    }
}

#[tokio::test]
async fn xml_both_ways_and_its_errors() {
    let app = app();
    let read = call(
        &app,
        "convert",
        json!({"input": "<orders><order id=\"1\"><sku>A</sku></order></orders>", "from": "xml", "to": "json", "xml": {"arrays": ["order"]}}),
    )
    .await;
    assert_eq!(
        read["data"],
        json!({"orders": {"order": [{"@id": "1", "sku": "A"}]}})
    );
    let written = call(&app, "convert", json!({"data": read["data"], "to": "xml"})).await;
    assert_eq!(
        written["output"],
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<orders>\n  <order id=\"1\">\n    <sku>A</sku>\n  </order>\n</orders>\n"
    );
    let error = refuse(
        &app,
        "convert",
        json!({"input": "<a>\n<b></a>", "from": "xml", "to": "json"}),
        422,
        "MALFORMED_INPUT",
    )
    .await;
    assert!(
        error["details"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("XML at line 2"),
        "{error}"
    );
}

#[tokio::test]
async fn xlsx_as_a_raw_file_in_and_out() {
    let app = app();
    let workbook = app
        .post_raw(
            "/api/v1/data/convert?to=xlsx&inferTypes=true",
            "text/csv",
            "sku,qty\nA-1,12\nB-2,3\n",
        )
        .await;
    assert_eq!(workbook.status, 200, "{}", workbook.text());
    assert_eq!(
        workbook.headers["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(
        workbook.headers["content-disposition"],
        "attachment; filename=\"converted.xlsx\""
    );
    let back = app
        .post_raw(
            "/api/v1/data/convert?to=json",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            workbook.body.clone(),
        )
        .await
        .ok();
    assert_eq!(
        back,
        json!([{"sku": "A-1", "qty": 12}, {"sku": "B-2", "qty": 3}])
    );
    // CSV in → jq → XLSX out, in one call.
    let queried = app
        .post_raw(
            "/api/v1/data/query?filter=map(select(.qty%20%3E%205))&to=xlsx&inferTypes=true",
            "text/csv",
            "sku,qty\nA-1,12\nB-2,3\n",
        )
        .await;
    assert_eq!(queried.status, 200, "{}", queried.text());
    let rows = app
        .post_raw(
            "/api/v1/data/convert?from=xlsx&to=json",
            "application/octet-stream",
            queried.body.clone(),
        )
        .await
        .ok();
    assert_eq!(rows, json!([{"sku": "A-1", "qty": 12}]));
    let error = app
        .post_raw(
            "/api/v1/data/convert?from=xlsx&to=json",
            "application/octet-stream",
            "PK not really a zip",
        )
        .await
        .error(422, "MALFORMED_INPUT");
    assert!(
        error["details"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("XLSX")
    );
    let error = app
        .post_raw(
            "/api/v1/data/convert?to=json&sheet=Missing",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            workbook.body.clone(),
        )
        .await
        .error(422, "VALIDATION_ERROR");
    assert_eq!(error["details"][0]["field"], "sheet");
}

#[tokio::test]
async fn jsonpath_and_jmespath_queries() {
    let app = app();
    let data = json!({"orders": [{"id": 1, "total": 30}, {"id": 2, "total": 5}]});
    let path = call(
        &app,
        "query",
        json!({"language": "jsonpath", "filter": "$.orders[?@.total > 10].id", "data": data}),
    )
    .await;
    assert_eq!(path["results"], json!([1]));
    let jmes = call(
        &app,
        "query",
        json!({"language": "jmespath", "filter": "sum(orders[].total)", "data": data, "to": "yaml"}),
    )
    .await;
    assert_eq!(jmes["results"], json!([35.0]));
    assert_eq!(jmes["output"]["output"], "35.0\n");
    let error = refuse(
        &app,
        "query",
        json!({"language": "jsonpath", "filter": "$.orders[", "data": data}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "filter");
}

#[tokio::test]
async fn records_pipeline_of_shape_operations() {
    let app = app();
    let orders = json!([
        {"id": 1, "region": "eu", "total": 30, "items": [{"sku": "a"}, {"sku": "b"}]},
        {"id": 2, "region": "us", "total": 5, "items": [{"sku": "a"}]},
        {"id": 3, "region": "eu", "total": 12, "items": []}
    ]);
    let summary = call(
        &app,
        "records",
        json!({"data": orders, "steps": [
            {"op": "filter", "where": "total > 6"},
            {"op": "aggregate", "groupBy": ["region"], "summaries": [{"op": "sum", "field": "total"}, {"op": "count", "as": "orders"}]},
            {"op": "sort", "by": ["-sum_total"]}
        ]}),
    )
    .await;
    assert_eq!(summary["count"], 1);
    assert_eq!(
        summary["data"],
        json!([{"region": "eu", "sum_total": 42, "orders": 2}])
    );
    let lines = call(
        &app,
        "records",
        json!({"data": orders, "to": "csv", "steps": [
            {"op": "splitOut", "field": "items", "into": "item"},
            {"op": "flatten"},
            {"op": "pick", "fields": ["id", "item.sku"]},
            {"op": "rename", "fields": {"item.sku": "sku"}},
            {"op": "set", "values": {"source": "shop"}, "expressions": {"key": "id ~ '-' ~ sku"}}
        ]}),
    )
    .await;
    assert_eq!(
        lines["output"]["output"],
        "id,sku,source,key\n1,a,shop,1-a\n1,b,shop,1-b\n2,a,shop,2-a\n"
    );
    let joined = call(
        &app,
        "records",
        json!({"data": [{"id": 1}, {"id": 2}], "steps": [
            {"op": "join", "with": [{"user": 1, "city": "Oslo"}], "leftOn": ["id"], "rightOn": ["user"], "kind": "left"}
        ]}),
    )
    .await;
    assert_eq!(
        joined["data"],
        json!([{"id": 1, "user": 1, "city": "Oslo"}, {"id": 2}])
    );
    let error = refuse(
        &app,
        "records",
        json!({"data": orders, "steps": [{"op": "sort", "by": ["id"]}, {"op": "filter", "where": "total >"}]}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "steps[1].where");
    let error = refuse(
        &app,
        "records",
        json!({"data": [1, 2], "steps": []}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "data[0]");
    refuse(
        &app,
        "records",
        json!({"data": [], "steps": [{"op": "explode"}]}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    let too_many: Vec<serde_json::Value> = (0..51).map(|_| json!({"op": "dedupe"})).collect();
    let error = refuse(
        &app,
        "records",
        json!({"data": [], "steps": too_many}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "steps");
}

#[tokio::test]
async fn compare_two_datasets() {
    let app = app();
    let result = call(
        &app,
        "compare",
        json!({"a": [{"id": 1, "p": 10}, {"id": 2, "p": 5}], "b": [{"id": 2, "p": 6}, {"id": 3, "p": 1}], "keys": ["id"]}),
    )
    .await;
    assert_eq!(result["onlyInA"], json!([{"id": 1, "p": 10}]));
    assert_eq!(result["onlyInB"], json!([{"id": 3, "p": 1}]));
    assert_eq!(
        result["different"][0]["changes"],
        json!({"p": {"a": 5, "b": 6}})
    );
    assert_eq!(
        result["counts"],
        json!({"onlyInA": 1, "onlyInB": 1, "same": 0, "different": 1})
    );
    refuse(
        &app,
        "compare",
        json!({"a": [], "b": [], "keys": []}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
}

#[tokio::test]
async fn validate_and_infer_schemas() {
    let app = app();
    let samples = json!([{"id": 1, "email": "ada@example.com"}, {"id": 2, "email": "bob@example.com", "vip": true}]);
    let inferred = call(&app, "schema/infer", json!({"samples": samples})).await["schema"].clone();
    assert_eq!(inferred["required"], json!(["id", "email"]));
    let valid = call(
        &app,
        "validate",
        json!({"schema": inferred, "data": samples[1]}),
    )
    .await;
    assert_eq!(valid, json!({"valid": true, "errors": []}));
    let invalid = call(
        &app,
        "validate",
        json!({"schema": inferred, "data": {"id": "x", "email": "nope"}}),
    )
    .await;
    assert_eq!(invalid["valid"], false);
    let paths: Vec<&str> = invalid["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["instancePath"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/id", "/email"]);
    let draft7 = call(
        &app,
        "validate",
        json!({"schema": {"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"type": "string"}]}, "data": [1]}),
    )
    .await;
    assert_eq!(draft7["errors"][0]["instancePath"], "/0");
    let error = refuse(
        &app,
        "validate",
        json!({"schema": {"type": 12}, "data": 1}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "schema");
}

#[tokio::test]
async fn dates_in_time_zones() {
    let app = app();
    let added = call(
        &app,
        "datetime",
        json!({"operation": "add", "value": "2024-03-30 09:00", "timezone": "Europe/Oslo", "amount": 1, "unit": "days", "format": "cccc d LLLL yyyy HH:mm ZZ"}),
    )
    .await;
    assert_eq!(added["result"], "Sunday 31 March 2024 09:00 +02:00");
    assert_eq!(added["iso"], "2024-03-31T09:00:00+02:00");
    let diff = call(
        &app,
        "datetime",
        json!({"operation": "diff", "value": "2024-01-01", "end": "2024-03-01", "unit": "days"}),
    )
    .await;
    assert_eq!(diff["result"], 60.0);
    let converted = call(
        &app,
        "datetime",
        json!({"operation": "convert", "value": 1_709_649_000, "toTimezone": "America/New_York"}),
    )
    .await;
    assert_eq!(converted["iso"], "2024-03-05T09:30:00-05:00");
    let parsed = call(
        &app,
        "datetime",
        json!({"operation": "parse", "value": "05/03/2024", "inputFormat": "dd/LL/yyyy"}),
    )
    .await;
    assert_eq!(parsed["parts"]["month"], 3);
    assert_eq!(parsed["parts"]["weekday"], 2);
    let error = refuse(
        &app,
        "datetime",
        json!({"operation": "convert", "value": "2024-01-01", "toTimezone": "Mars/Base"}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "toTimezone");
    let error = refuse(
        &app,
        "datetime",
        json!({"operation": "add", "value": "2024-01-01"}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "amount");
}

#[tokio::test]
async fn text_operations() {
    let app = app();
    let page = "<h1>Hi</h1><p>See <a href=\"/a\">a</a> and <a href=\"/b\">b</a></p>";
    let extracted = call(
        &app,
        "text",
        json!({"operation": "extract", "text": page, "extract": [
            {"key": "title", "selector": "h1"},
            {"key": "links", "selector": "a", "value": "attribute", "attribute": "href", "all": true}
        ]}),
    )
    .await;
    assert_eq!(
        extracted["result"],
        json!({"title": "Hi", "links": ["/a", "/b"]})
    );
    let markdown = call(
        &app,
        "text",
        json!({"operation": "htmlToMarkdown", "text": page}),
    )
    .await;
    assert_eq!(markdown["result"], "# Hi\n\nSee [a](/a) and [b](/b)\n");
    let html = call(
        &app,
        "text",
        json!({"operation": "markdownToHtml", "text": "**x** <i>y</i>"}),
    )
    .await;
    assert_eq!(
        html["result"],
        "<p><strong>x</strong> &lt;i&gt;y&lt;/i&gt;</p>\n"
    );
    let replaced = call(
        &app,
        "text",
        json!({"operation": "regexReplace", "text": "2024-03-05", "pattern": "(\\d+)-(\\d+)-(\\d+)", "replacement": "$3.$2.$1"}),
    )
    .await;
    assert_eq!(replaced["result"], "05.03.2024");
    let error = refuse(
        &app,
        "text",
        json!({"operation": "regexTest", "text": "x", "pattern": "(a"}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "pattern");
}
