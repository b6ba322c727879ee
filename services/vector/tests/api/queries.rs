//! Queries beyond nearest neighbours: recommendations, batches, groups, keyword (BM25) and
//! hybrid search, each checked against what it is defined to be.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::collections::put;
use crate::points::{cosine, vector};
use crate::{Scratch, app};

const CITIES: [&str; 3] = ["Berlin", "Paris", "Rome"];

fn ids(answer: &Value) -> Vec<u64> {
    answer["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect()
}

/// The ids of points 0..200 (except `skip`) by descending `score`, first `n`.
fn ranked(score: &dyn Fn(&[f32]) -> f32, skip: &[u64], n: usize) -> Vec<u64> {
    let mut scored: Vec<(u64, f32)> = (0..200u64)
        .filter(|i| !skip.contains(i))
        .map(|i| (i, score(&vector(i, 8))))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.iter().take(n).map(|(i, _)| *i).collect()
}

async fn cities_app(dir: &Scratch) -> flowforge_service_kit::test_util::TestApp {
    let app = app(dir).await;
    app.send(put(
        "/api/v1/vector/collections/cities",
        &json!({"vectors": {"size": 8, "distance": "cosine"}}),
    ))
    .await
    .ok();
    let points: Vec<Value> = (0..200u64)
        .map(|i| json!({"id": i, "vector": vector(i, 8), "payload": {"city": CITIES[(i % 3) as usize]}}))
        .collect();
    app.send(put(
        "/api/v1/vector/collections/cities/points",
        &json!({"points": points}),
    ))
    .await
    .ok();
    app
}

#[tokio::test]
async fn recommendations_follow_their_definitions_and_leave_the_examples_out() {
    let dir = Scratch::create();
    let app = cities_app(&dir).await;
    let url = "/api/v1/vector/collections/cities/points/recommend";
    // average_vector: nearest to 2·mean(positives) − mean(negatives), of the stored vectors
    // (which a cosine collection keeps normalized).
    let unit = |v: Vec<f32>| {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / norm).collect::<Vec<f32>>()
    };
    let (p1, p2, n) = (unit(vector(1, 8)), unit(vector(2, 8)), unit(vector(3, 8)));
    let target: Vec<f32> = (0..8).map(|d| 2.0 * (p1[d] + p2[d]) / 2.0 - n[d]).collect();
    let found = app
        .post_json(
            url,
            &json!({"positive": [1, 2], "negative": [3], "limit": 10}),
        )
        .await
        .ok();
    assert_eq!(ids(&found), ranked(&|v| cosine(&target, v), &[1, 2, 3], 10));
    // A vector is an example too; with it alone, the result is a plain nearest search.
    let q = vector(777, 8);
    let by_vector = app
        .post_json(url, &json!({"positive": [q], "limit": 5}))
        .await
        .ok();
    assert_eq!(ids(&by_vector), ranked(&|v| cosine(&q, v), &[], 5));
    // best_score without negatives: ranked by the closest positive.
    let best = app
        .post_json(
            url,
            &json!({"positive": [1, 2], "strategy": "best_score", "limit": 10}),
        )
        .await
        .ok();
    assert_eq!(
        ids(&best),
        ranked(&|v| cosine(&p1, v).max(cosine(&p2, v)), &[1, 2], 10)
    );
    let filtered = app
        .post_json(
            url,
            &json!({"positive": [1], "strategy": "sum_scores", "limit": 5,
                "filter": {"must": [{"key": "city", "match": {"value": "Rome"}}]}}),
        )
        .await
        .ok();
    assert!(
        filtered["points"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["payload"]["city"] == "Rome"),
        "{filtered}"
    );
    app.post_json(url, &json!({"negative": [3]}))
        .await
        .error(422, "VALIDATION_ERROR");
    let error = app
        .post_json(url, &json!({"positive": [12345]}))
        .await
        .error(422, "VALIDATION_ERROR");
    assert!(
        error["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("12345"),
        "{error}"
    );
    app.post_json(url, &json!({"positive": [[1.0, 2.0]]}))
        .await
        .error(422, "DIMENSION_MISMATCH");
}

#[tokio::test]
async fn batches_answer_each_search_and_groups_take_the_best_of_each_key() {
    let dir = Scratch::create();
    let app = cities_app(&dir).await;
    let (q1, q2) = (vector(501, 8), vector(502, 8));
    let batch = app
        .post_json(
            "/api/v1/vector/collections/cities/points/search/batch",
            &json!({"searches": [{"vector": q1, "limit": 4},
                {"vector": q2, "limit": 3, "filter": {"must": [{"key": "city", "match": {"value": "Paris"}}]}}]}),
        )
        .await
        .ok();
    let results = batch["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(ids(&results[0]), ranked(&|v| cosine(&q1, v), &[], 4));
    let not_paris: Vec<u64> = (0..200).filter(|i| i % 3 != 1).collect();
    assert_eq!(ids(&results[1]), ranked(&|v| cosine(&q2, v), &not_paris, 3));
    let error = app
        .post_json(
            "/api/v1/vector/collections/cities/points/search/batch",
            &json!({"searches": [{"vector": q1}, {"vector": [1.0]}]}),
        )
        .await
        .error(422, "DIMENSION_MISMATCH");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("searches[1]: "),
        "{error}"
    );
    app.post_json(
        "/api/v1/vector/collections/cities/points/search/batch",
        &json!({"searches": [{"limit": 3}]}),
    )
    .await
    .error(422, "VALIDATION_ERROR");

    // Groups: the best two cities, each with its best three points.
    let groups = app
        .post_json(
            "/api/v1/vector/collections/cities/points/search/groups",
            &json!({"vector": q1, "groupBy": "city", "groupSize": 3, "limit": 2}),
        )
        .await
        .ok();
    let order = ranked(&|v| cosine(&q1, v), &[], 200);
    let city = |i: u64| CITIES[(i % 3) as usize];
    let mut expected: Vec<(&str, Vec<u64>)> = Vec::new();
    for &i in &order {
        match expected.iter().position(|(c, _)| *c == city(i)) {
            Some(g) if expected[g].1.len() < 3 => expected[g].1.push(i),
            Some(_) => {}
            None if expected.len() < 2 => expected.push((city(i), vec![i])),
            None => {}
        }
    }
    let got: Vec<(String, Vec<u64>)> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["id"].as_str().unwrap().to_owned(),
                ids(&json!({"points": g["hits"]})),
            )
        })
        .collect();
    let expected: Vec<(String, Vec<u64>)> = expected
        .into_iter()
        .map(|(c, hits)| (c.to_owned(), hits))
        .collect();
    assert_eq!(got, expected);
    app.post_json(
        "/api/v1/vector/collections/cities/points/search/groups",
        &json!({"vector": q1}),
    )
    .await
    .error(422, "VALIDATION_ERROR");
    app.post_json(
        "/api/v1/vector/collections/cities/points/search",
        &json!({"vector": q1, "groupBy": "city"}),
    )
    .await
    .error(422, "VALIDATION_ERROR");
    // The limits: group sizes, no offset for groups, at most 100 searches a batch.
    for bad in [
        json!({"vector": q1, "groupBy": "city", "groupSize": 0}),
        json!({"vector": q1, "groupBy": "city", "groupSize": 101}),
        json!({"vector": q1, "groupBy": "city", "offset": 3}),
    ] {
        app.post_json(
            "/api/v1/vector/collections/cities/points/search/groups",
            &bad,
        )
        .await
        .error(422, "VALIDATION_ERROR");
    }
    let too_many: Vec<Value> = (0..101).map(|_| json!({"vector": q1})).collect();
    app.post_json(
        "/api/v1/vector/collections/cities/points/search/batch",
        &json!({"searches": too_many}),
    )
    .await
    .error(422, "VALIDATION_ERROR");
}

const NOTES: [&str; 5] = [
    "Invoice INV-2024-0042 is overdue since March.",
    "Payment reminders go out thirty days after an invoice is sent.",
    "The office opens at nine in the morning.",
    "A monkey is playing drums.",
    "Overdue payments are charged interest.",
];

#[tokio::test]
async fn keyword_search_finds_exact_words_and_hybrid_fuses_both_lists_by_rank() {
    let dir = Scratch::create();
    let app = app(&dir).await;
    let created = app
        .send(put(
            "/api/v1/vector/collections/notes",
            &json!({"keywords": true}),
        ))
        .await
        .ok();
    assert_eq!(created["keywords"], json!({}), "{created}");
    let points: Vec<Value> = NOTES
        .iter()
        .enumerate()
        .map(|(i, text)| json!({"id": i, "text": text}))
        .collect();
    app.send(put(
        "/api/v1/vector/collections/notes/points",
        &json!({"points": points}),
    ))
    .await
    .ok();
    let search = "/api/v1/vector/collections/notes/points/search";
    // An invoice number: only the note that holds it shares its words.
    let exact = app
        .post_json(
            search,
            &json!({"text": "INV-2024-0042", "mode": "keywords"}),
        )
        .await
        .ok();
    assert_eq!(ids(&exact), vec![0], "{exact}");
    // Stemming: "overdue payments" matches both notes with "overdue" and the one with
    // "payment"; the note with both words ranks first.
    let words = app
        .post_json(
            search,
            &json!({"text": "overdue payments", "mode": "keywords"}),
        )
        .await
        .ok();
    let found = ids(&words);
    assert_eq!(found[0], 4, "{words}");
    assert_eq!(
        {
            let mut sorted = found.clone();
            sorted.sort_unstable();
            sorted
        },
        vec![0, 1, 4],
        "{words}"
    );

    // Hybrid: each point scores Σ 1/(60 + rank) over the dense and the keyword lists, ranks
    // counted from 0 as Qdrant counts them.
    let query = "When is an invoice overdue?";
    let list = |mode: &str| json!({"text": query, "mode": mode, "limit": 50});
    let dense = ids(&app.post_json(search, &list("dense")).await.ok());
    let keywords = ids(&app.post_json(search, &list("keywords")).await.ok());
    let hybrid = app.post_json(search, &list("hybrid")).await.ok();
    let mut expected: HashMap<u64, f64> = HashMap::new();
    for ranking in [&dense, &keywords] {
        for (rank, id) in ranking.iter().enumerate() {
            *expected.entry(*id).or_default() += 1.0 / (60.0 + rank as f64);
        }
    }
    let points = hybrid["points"].as_array().unwrap();
    assert_eq!(points.len(), expected.len());
    for point in points {
        let id = point["id"].as_u64().unwrap();
        let score = point["score"].as_f64().unwrap();
        assert!(
            (score - expected[&id]).abs() < 1e-6,
            "{id}: {score} vs {}",
            expected[&id]
        );
    }
    let scores: Vec<f64> = points
        .iter()
        .map(|p| p["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{hybrid}");

    // The keyword index survives a restart.
    drop(app);
    let app = crate::app(&dir).await;
    let again = app
        .post_json(
            search,
            &json!({"text": "INV-2024-0042", "mode": "keywords"}),
        )
        .await
        .ok();
    assert_eq!(ids(&again), vec![0]);
    let info = app.get("/api/v1/vector/collections/notes").await.ok();
    assert_eq!(info["keywords"], json!({}), "{info}");
}

#[tokio::test]
async fn keyword_search_needs_a_keyword_index_and_words() {
    let dir = Scratch::create();
    let app = app(&dir).await;
    app.send(put("/api/v1/vector/collections/plain", &json!({})))
        .await
        .ok();
    let search = "/api/v1/vector/collections/plain/points/search";
    let error = app
        .post_json(search, &json!({"text": "words", "mode": "keywords"}))
        .await
        .error(422, "VALIDATION_ERROR");
    assert!(
        error["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("keyword index"),
        "{error}"
    );
    app.post_json(
        search,
        &json!({"vector": vec![0.0f32; 384], "mode": "hybrid"}),
    )
    .await
    .error(422, "VALIDATION_ERROR");
    app.send(put(
        "/api/v1/vector/collections/bad",
        &json!({"keywords": {"language": "klingon"}}),
    ))
    .await
    .error(422, "VALIDATION_ERROR");
    app.send(put(
        "/api/v1/vector/collections/clash",
        &json!({"keywords": true, "vectors": {"bm25": {"size": 3, "distance": "dot"}}}),
    ))
    .await
    .error(422, "VALIDATION_ERROR");
}

#[tokio::test]
async fn documents_are_found_by_their_words() {
    let dir = Scratch::create();
    let app = app(&dir).await;
    app.send(put(
        "/api/v1/vector/collections/docs",
        &json!({"keywords": {"language": "english"}}),
    ))
    .await
    .ok();
    app.post_json(
        "/api/v1/vector/collections/docs/documents",
        &json!({"documents": [
            {"id": "billing", "text": "Invoices are due in 30 days. Late invoices carry a fee of 2%."},
            {"id": "office", "text": "The office at Rosenthaler Straße 12 opens at 9am."}]}),
    )
    .await
    .ok();
    let found = app
        .post_json(
            "/api/v1/vector/collections/docs/documents/search",
            &json!({"query": "Rosenthaler", "mode": "keywords"}),
        )
        .await
        .ok();
    let results = found["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{found}");
    assert_eq!(results[0]["documentId"], "office");
    let hybrid = app
        .post_json(
            "/api/v1/vector/collections/docs/documents/search",
            &json!({"query": "late fee for invoices", "mode": "hybrid", "limit": 1}),
        )
        .await
        .ok();
    assert_eq!(hybrid["results"][0]["documentId"], "billing", "{hybrid}");
}
