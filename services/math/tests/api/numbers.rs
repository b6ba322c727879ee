//! Statistics, matrices and finance against reference values.

use serde_json::json;

use crate::{app, call, close, refuse};

#[tokio::test]
async fn describes_numbers_and_item_fields_like_numpy() {
    let app = app();
    let numbers = json!([2, 4, 4, 4, 5, 5, 7, 9]);
    let s = call(
        &app,
        "statistics/describe",
        json!({"values": numbers, "percentiles": [10, 90]}),
    )
    .await;
    assert_eq!(
        (s["count"].clone(), s["mean"].clone(), s["median"].clone()),
        (json!(8), json!(5.0), json!(4.5))
    );
    assert_eq!(s["mode"], json!([4.0]));
    close(&s["variance"]["sample"], 4.571_428_571_428_571);
    close(&s["std"]["population"], 2.0);
    // numpy.percentile(…, [10, 90]) -> [3.4, 7.6]
    close(&s["percentiles"]["10"], 3.4);
    close(&s["percentiles"]["90"], 7.6);
    close(&s["skewness"], 0.65625);
    close(&s["kurtosis"], -0.21875);

    let items: Vec<_> = [2, 4, 4, 4, 5, 5, 7, 9]
        .iter()
        .map(|v| json!({"order": {"total": v}}))
        .collect();
    let from_items = call(
        &app,
        "statistics/describe",
        json!({"items": items, "field": "order.total"}),
    )
    .await;
    assert_eq!(from_items["mean"], 5.0);
    assert_eq!(from_items["percentiles"]["50"], 4.5);

    let bad = json!({"items": [{"v": 1}, {"v": "2"}, {"w": 3}], "field": "v"});
    let error = refuse(&app, "statistics/describe", bad, 422, "VALIDATION_ERROR").await;
    assert_eq!(error["details"][0]["field"], "items[1].v");
    assert_eq!(error["details"][0]["message"], "is a string, not a number");
    let error = refuse(
        &app,
        "statistics/describe",
        json!({"values": []}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "values");
    refuse(
        &app,
        "statistics/describe",
        json!({"items": [{"v": 1}]}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
}

#[tokio::test]
async fn correlates_like_scipy() {
    let app = app();
    let pair = json!({"x": [1, 2, 3, 4, 5], "y": [2, 4, 5, 4, 5]});
    close(
        &call(&app, "statistics/correlation", pair.clone()).await["coefficient"],
        0.774_596_669_241_483_4,
    );
    let mut spearman = pair;
    spearman["method"] = json!("spearman");
    close(
        &call(&app, "statistics/correlation", spearman).await["coefficient"],
        0.737_864_787_372_621_8,
    );
    let error = refuse(
        &app,
        "statistics/correlation",
        json!({"x": [1, 2], "y": [1]}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "y");
}

#[tokio::test]
async fn matrices_solve_invert_and_decompose() {
    let app = app();
    let product = call(
        &app,
        "matrix",
        json!({"operation": "multiply", "a": [[1, 2], [3, 4]], "b": [[5, 6], [7, 8]]}),
    )
    .await;
    assert_eq!(product["result"], json!([[19.0, 22.0], [43.0, 50.0]]));
    let solved = call(
        &app,
        "matrix",
        json!({"operation": "solve", "a": [[2, 1], [1, 3]], "b": [5, 10]}),
    )
    .await;
    assert_eq!(solved["method"], "exact");
    close(&solved["result"][0][0], 1.0);
    close(&solved["result"][1][0], 3.0);
    let inverse = call(
        &app,
        "matrix",
        json!({"operation": "inverse", "a": [[4, 7], [2, 6]]}),
    )
    .await;
    close(&inverse["result"][0][1], -0.7);
    assert_eq!(
        call(
            &app,
            "matrix",
            json!({"operation": "determinant", "a": [[1, 2], [3, 4]]})
        )
        .await["result"],
        -2.0
    );
    let eigen = call(
        &app,
        "matrix",
        json!({"operation": "eigen", "a": [[2, 1], [1, 2]]}),
    )
    .await;
    close(&eigen["values"][0], 1.0);
    close(&eigen["values"][1], 3.0);
    let cholesky = call(
        &app,
        "matrix",
        json!({"operation": "cholesky", "a": [[4, 12, -16], [12, 37, -43], [-16, -43, 98]]}),
    )
    .await;
    assert_eq!(cholesky["l"][2], json!([-8.0, 5.0, 3.0]));

    let error = refuse(
        &app,
        "matrix",
        json!({"operation": "inverse", "a": [[1, 2], [2, 4]]}),
        422,
        "SINGULAR_MATRIX",
    )
    .await;
    assert!(error["message"].as_str().unwrap().contains("singular"));
    let error = refuse(
        &app,
        "matrix",
        json!({"operation": "trace", "a": [[1, 2], [3]]}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "a[1]");
    let error = refuse(
        &app,
        "matrix",
        json!({"operation": "add", "a": [[1]]}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "b");
    let error = refuse(
        &app,
        "matrix",
        json!({"operation": "invert", "a": [[1]]}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "operation");
    let big: Vec<Vec<f64>> = vec![vec![1.0; 501]; 2];
    refuse(
        &app,
        "matrix",
        json!({"operation": "rank", "a": big}),
        422,
        "EXPRESSION_TOO_COMPLEX",
    )
    .await;
}

#[tokio::test]
async fn finance_matches_the_spreadsheet() {
    let app = app();
    // Excel: PMT(5%/12, 360, 200000) = -1073.64
    let pmt = call(
        &app,
        "finance",
        json!({"operation": "pmt", "rate": 0.05 / 12.0, "periods": 360, "presentValue": 200000}),
    )
    .await;
    close(&pmt["result"], -1_073.643_246_024_279_5);
    // Excel: IRR({-70000, 12000, 15000, 18000, 21000, 26000}) = 8.66%
    let irr = call(
        &app,
        "finance",
        json!({"operation": "irr", "cashFlows": [-70000, 12000, 15000, 18000, 21000, 26000]}),
    )
    .await;
    close(&irr["result"], 0.086_630_948_036_531_6);
    let loan = call(&app, "finance", json!({"operation": "amortization", "principal": 10000, "rate": 0.01, "periods": 12, "rounding": "halfEven"})).await;
    assert_eq!(loan["payment"], 888.49);
    assert_eq!(loan["schedule"].as_array().unwrap().len(), 12);
    assert_eq!(loan["schedule"][11]["balance"], 0.0);

    let error = refuse(
        &app,
        "finance",
        json!({"operation": "pmt", "rate": 0.01, "periods": 12}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "presentValue");
    refuse(
        &app,
        "finance",
        json!({"operation": "irr", "cashFlows": [1, 2]}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    let error = refuse(
        &app,
        "finance",
        json!({"operation": "pmt", "rate": 0.01, "periods": 12, "presentValue": 1, "bogus": 1}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "bogus");
}

#[tokio::test]
async fn histogram_regression_outliers_and_series() {
    let app = app();
    let histogram = call(
        &app,
        "statistics/histogram",
        json!({"values": [1, 2, 2, 3, 3, 3, 4, 4, 4, 4], "bins": 3}),
    )
    .await;
    let counts: Vec<u64> = histogram["bins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [1, 2, 7], "numpy.histogram");

    let line = call(
        &app,
        "statistics/regression",
        json!({"x": [1, 2, 3, 4, 5], "y": [2, 4, 5, 4, 5], "predict": [6]}),
    )
    .await;
    close(&line["coefficients"][0], 2.2);
    close(&line["coefficients"][1], 0.6);
    close(&line["rSquared"], 0.6);
    close(&line["predictions"][0]["y"], 5.8);
    let quadratic = call(
        &app,
        "statistics/regression",
        json!({"x": [0, 1, 2, 3, 4], "y": [1, 3, 7, 13, 21], "model": "polynomial", "degree": 2}),
    )
    .await;
    close(&quadratic["coefficients"][2], 1.0);
    let error = refuse(
        &app,
        "statistics/regression",
        json!({"x": [0, 1], "y": [1, -1], "model": "exponential"}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "y[1]");

    let found = call(
        &app,
        "statistics/outliers",
        json!({"values": [10, 12, 11, 13, 12, 95, 11]}),
    )
    .await;
    assert_eq!(found["outliers"], json!([{"index": 5, "value": 95.0}]));
    let averaged = call(
        &app,
        "statistics/series",
        json!({"values": [1, 2, 3, 4], "operation": "movingAverage", "window": 2}),
    )
    .await;
    assert_eq!(averaged["result"], json!([null, 1.5, 2.5, 3.5]));
    let error = refuse(
        &app,
        "statistics/series",
        json!({"values": [1, 2], "operation": "movingAverage"}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "window");
}

#[tokio::test]
async fn hypothesis_tests_match_scipy() {
    let app = app();
    let (a, b) = (
        json!([5.1, 4.9, 5.6, 5.8, 6.0, 5.3, 5.7]),
        json!([4.2, 4.8, 5.0, 4.6, 4.4, 5.1]),
    );
    let welch = call(
        &app,
        "statistics/test",
        json!({"test": "welchTTest", "a": a, "b": b}),
    )
    .await;
    close(&welch["statistic"], 3.875_611_909_909_621);
    close(&welch["pValue"], 0.002_589_391_909_769_687);
    let one = call(
        &app,
        "statistics/test",
        json!({"test": "tTest", "a": a, "mu": 5}),
    )
    .await;
    close(&one["pValue"], 0.017_865_665_064_734_665);
    assert_eq!(one["df"], 6.0);
    let table = call(
        &app,
        "statistics/test",
        json!({"test": "chiSquareContingency", "table": [[12, 5], [7, 9]]}),
    )
    .await;
    close(&table["pValue"], 0.227_568_214_575_806_42);
    let u = call(
        &app,
        "statistics/test",
        json!({"test": "mannWhitney", "a": a, "b": b}),
    )
    .await;
    assert_eq!(u["statistic"], 39.5);
    assert_eq!(u["df"], json!(null));
    let error = refuse(
        &app,
        "statistics/test",
        json!({"test": "tTestPaired", "a": [1, 2]}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "b");
    let error = refuse(
        &app,
        "statistics/test",
        json!({"test": "chiSquare", "observed": [1, 2], "expected": [1, 1]}),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "expected");
}
