//! `evaluate`: values, variables, batches, positions in parse errors, and the sandbox.

use serde_json::json;

use crate::{app, call, close, refuse};

#[tokio::test]
async fn evaluates_with_variables_and_statements() {
    let app = app();
    let answer = call(
        &app,
        "evaluate",
        json!({"expression": "a = 2; b = a * 3\nb ^ 2 + x", "scope": {"x": 0.5}}),
    )
    .await;
    assert_eq!(answer["result"], 36.5);
    assert_eq!(answer["formatted"], "36.5");
    assert_eq!(answer["type"], "number");
    assert_eq!(answer["variables"]["a"]["value"], 2.0);
    assert_eq!(answer["variables"]["b"]["formatted"], "6");

    let answer = call(&app, "evaluate", json!({"expression": "0.1 + 0.2"})).await;
    close(&answer["result"], 0.3);
    assert_eq!(
        answer["formatted"], "0.3",
        "math.js shows 14 significant digits"
    );
    let answer = call(
        &app,
        "evaluate",
        json!({"expression": "1/3", "precision": 4}),
    )
    .await;
    assert_eq!(answer["formatted"], "0.3333");
    let answer = call(&app, "evaluate", json!({"expression": "sqrt(2)^2 == 2"})).await;
    assert_eq!(
        (answer["type"].as_str(), answer["formatted"].as_str()),
        (Some("boolean"), Some("false"))
    );
    let answer = call(&app, "evaluate", json!({"expression": "1/0"})).await;
    assert_eq!(
        (answer["result"].clone(), answer["formatted"].as_str()),
        (json!(null), Some("Infinity"))
    );
}

#[tokio::test]
async fn evaluates_a_batch_in_order() {
    let answer = call(
        &app(),
        "evaluate",
        json!({"expressions": ["2 + 3", "5!", "combinations(52, 5)"]}),
    )
    .await;
    let results: Vec<f64> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"].as_f64().unwrap())
        .collect();
    assert_eq!(results, [5.0, 120.0, 2_598_960.0]);
}

#[tokio::test]
async fn errors_point_at_the_position() {
    let app = app();
    let error = refuse(
        &app,
        "evaluate",
        json!({"expression": "2 * (3 + "}),
        422,
        "PARSE_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "expression");
    assert_eq!(
        error["details"][0]["message"],
        "unexpected end of expression (at character 10)"
    );
    let error = refuse(
        &app,
        "evaluate",
        json!({"expression": "2 + y"}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(
        error["details"][0]["message"],
        "undefined symbol `y` (at character 5)"
    );
    let error = refuse(
        &app,
        "evaluate",
        json!({"expressions": ["1", "1 +"]}),
        422,
        "PARSE_ERROR",
    )
    .await;
    assert_eq!(error["details"][1]["message"], "expression 1 failed");
    refuse(&app, "evaluate", json!({}), 422, "VALIDATION_ERROR").await;
    let error = refuse(
        &app,
        "evaluate",
        json!({"expression": "x", "scope": {"1x": 2}}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "scope.1x");
    let error = refuse(
        &app,
        "evaluate",
        json!({"expression": "1", "scope": {"x": "two"}}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "scope.x");
}

#[tokio::test]
async fn runaway_expressions_are_refused_quickly() {
    let app = app();
    let started = std::time::Instant::now();
    let deep = format!("{}1{}", "(".repeat(2_000), ")".repeat(2_000));
    let error = refuse(
        &app,
        "evaluate",
        json!({"expression": deep}),
        422,
        "EXPRESSION_TOO_COMPLEX",
    )
    .await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("nested deeper than 64"),
        "{error}"
    );
    let long = "1+".repeat(20_000) + "1";
    refuse(
        &app,
        "evaluate",
        json!({"expression": long}),
        422,
        "EXPRESSION_TOO_COMPLEX",
    )
    .await;
    let answer = call(
        &app,
        "evaluate",
        json!({"expression": "combinations(1e15, 5e14) + 10^400"}),
    )
    .await;
    assert_eq!(answer["formatted"], "Infinity");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

#[tokio::test]
async fn units_convert_like_math_js() {
    let app = app();
    let answer = call(
        &app,
        "evaluate",
        json!({"expression": "5 cm to inch", "precision": 5}),
    )
    .await;
    assert_eq!(answer["type"], "quantity");
    assert_eq!(answer["unit"], "inch");
    assert_eq!(answer["formatted"], "1.9685 inch");
    close(&answer["result"], 1.968_503_937_007_874);
    let answer = call(
        &app,
        "evaluate",
        json!({"expression": "speed = 90 km/h; speed to m/s"}),
    )
    .await;
    close(&answer["result"], 25.0);
    assert_eq!(answer["unit"], "m / s");
    assert_eq!(answer["variables"]["speed"]["formatted"], "90 km / h");
    let answer = call(&app, "evaluate", json!({"expression": "37 degC to degF"})).await;
    close(&answer["result"], 98.6);
    let answer = call(
        &app,
        "evaluate",
        json!({"expression": "2.5 GB in MiB", "precision": 6}),
    )
    .await;
    assert_eq!(answer["formatted"], "2384.19 MiB");
    let error = refuse(
        &app,
        "evaluate",
        json!({"expression": "3 kg to km"}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert!(
        error["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("cannot convert kg to km"),
        "{error}"
    );
}

#[tokio::test]
async fn algebra_differentiates_solves_and_integrates() {
    let app = app();
    let d = call(
        &app,
        "derivative",
        json!({"expression": "3x^3 + 2x + 7", "at": 2}),
    )
    .await;
    assert_eq!(d["derivative"], "9 * x ^ 2 + 2");
    assert_eq!(d["value"], 38.0);
    assert_eq!(
        call(&app, "simplify", json!({"expression": "2 * 3 * y * 1 + 0"})).await["result"],
        "6 * y"
    );
    let roots = call(&app, "solve", json!({"equation": "x^2 - 5x + 6 = 0"})).await;
    assert_eq!(roots["method"], "polynomial");
    assert_eq!(roots["real"], json!([2.0, 3.0]));
    let complex = call(
        &app,
        "solve",
        json!({"equation": "t^2 + 4", "variable": "t"}),
    )
    .await;
    assert_eq!(complex["real"], json!([]));
    assert_eq!(complex["roots"][1], json!({"re": 0.0, "im": 2.0}));
    let numeric = call(
        &app,
        "solve",
        json!({"equation": "cos(x) = x", "from": -10, "to": 10}),
    )
    .await;
    assert_eq!(numeric["method"], "numeric");
    close(&numeric["real"][0], 0.739_085_133_215_160_6);
    let area = call(
        &app,
        "integrate",
        json!({"expression": "3x^2 + 1", "from": 0, "to": 2}),
    )
    .await;
    assert_eq!(
        (area["value"].clone(), area["antiderivative"].clone()),
        (json!(10.0), json!("x ^ 3 + x"))
    );
    let sine = call(
        &app,
        "integrate",
        json!({"expression": "sin(x)", "from": 0, "to": std::f64::consts::PI}),
    )
    .await;
    close(&sine["value"], 2.0);

    let error = refuse(
        &app,
        "derivative",
        json!({"expression": "a = 1; a"}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "expression");
    let error = refuse(
        &app,
        "solve",
        json!({"equation": "x = 1 = 2"}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "equation");
    refuse(
        &app,
        "integrate",
        json!({"expression": "x", "from": 0}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
}

#[tokio::test]
async fn complex_fraction_and_bignumber_modes() {
    let app = app();
    let answer = call(&app, "evaluate", json!({"expression": "sqrt(-4) + 1"})).await;
    assert_eq!(answer["type"], "complex");
    assert_eq!(answer["formatted"], "1 + 2i");
    assert_eq!(answer["complex"], json!({"re": 1.0, "im": 2.0}));
    assert_eq!(answer["result"], serde_json::Value::Null);

    let answer = call(
        &app,
        "evaluate",
        json!({"expression": "a = 1/3; a + 1/6", "number": "fraction"}),
    )
    .await;
    assert_eq!(answer["type"], "fraction");
    assert_eq!(answer["formatted"], "1/2");
    assert_eq!(answer["result"], 0.5);
    assert_eq!(answer["variables"]["a"]["formatted"], "1/3");

    let answer = call(
        &app,
        "evaluate",
        json!({"expression": "0.1 + 0.2 == 0.3", "number": "bignumber"}),
    )
    .await;
    assert_eq!(
        (answer["type"].as_str(), answer["formatted"].as_str()),
        (Some("boolean"), Some("true"))
    );
    let answer = call(
        &app,
        "evaluate",
        json!({"expression": "2^80 + 0.5", "number": "bignumber", "precision": 30}),
    )
    .await;
    assert_eq!(answer["formatted"], "1208925819614629174706176.5");
    let error = refuse(
        &app,
        "evaluate",
        json!({"expression": "1", "number": "bignumber", "precision": 5000}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "precision");
    refuse(
        &app,
        "evaluate",
        json!({"expression": "5 cm to inch", "number": "fraction"}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
}
