//! The embedded engine on 100k generated 384-d vectors: upsert rate, index build time, search
//! QPS with 2 threads, and recall@10 against an exact brute force computed here; then the same
//! points with generated texts in a collection with a keyword index: upsert rate, keyword and
//! hybrid search QPS.
//! Usage: cargo run --release -p flowforge-vector --example bench -- [points] [queries]
//!
//! Vectors are clustered (200 centres, Gaussian spread), the shape real embeddings have;
//! uniform random 384-d vectors have no near neighbours to find.
#![allow(
    clippy::unwrap_used,
    reason = "an example reports failure by panicking"
)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use flowforge_vector::domain::collections::{
    CollectionSettings, DistanceName, KeywordSettings, NewPoint, VectorSpace, VectorsConfig,
};
use flowforge_vector::domain::{Query, Search, Store};

const DIMENSIONS: usize = 384;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f32 / (1u64 << 53) as f32
    }

    /// Roughly standard normal (sum of uniforms).
    fn normal(&mut self) -> f32 {
        (0..4).map(|_| self.next()).sum::<f32>() - 2.0
    }
}

fn normalize(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

fn main() {
    let mut args = std::env::args().skip(1);
    let points: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let queries: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let centres: Vec<Vec<f32>> = (0..200)
        .map(|_| (0..DIMENSIONS).map(|_| rng.normal()).collect())
        .collect();
    let sample = |rng: &mut Rng| {
        let cluster = (rng.next() * centres.len() as f32) as usize % centres.len();
        let vector = centres[cluster]
            .iter()
            .map(|c| c + 0.6 * rng.normal())
            .collect();
        (cluster, normalize(vector))
    };
    let (clusters, data): (Vec<usize>, Vec<Vec<f32>>) =
        (0..points).map(|_| sample(&mut rng)).unzip();
    let (query_clusters, query_vectors): (Vec<usize>, Vec<Vec<f32>>) =
        (0..queries).map(|_| sample(&mut rng)).unzip();

    let dir = std::env::temp_dir().join(format!("flowforge-vector-bench-{}", std::process::id()));
    let store = Store::open(&dir).unwrap();
    let collection = store
        .create(
            "bench",
            CollectionSettings {
                vectors: VectorsConfig::Single(VectorSpace {
                    size: DIMENSIONS,
                    distance: DistanceName::Cosine,
                }),
                keywords: None,
            },
        )
        .unwrap();
    let started = Instant::now();
    for (batch, chunk) in data.chunks(1000).enumerate() {
        let points = chunk
            .iter()
            .enumerate()
            .map(|(i, v)| NewPoint {
                id: ((batch * 1000 + i) as u64).into(),
                vectors: BTreeMap::from([(String::new(), v.clone())]),
                payload: serde_json::Map::new(),
                text: None,
            })
            .collect();
        collection.upsert(points).unwrap();
    }
    let upsert = started.elapsed().as_secs_f64();
    let started = Instant::now();
    collection.optimize().unwrap();
    let indexing = started.elapsed().as_secs_f64();
    let info = collection.info();
    println!(
        "upsert: {points} points in {upsert:.2} s = {:.0} points/s; index built in {indexing:.2} s ({} of {} vectors indexed)",
        points as f64 / upsert,
        info.indexed_vectors,
        info.points
    );

    // Exact top-10 for a sample of the queries.
    let checked = queries.min(200);
    let truth: Vec<Vec<u64>> = query_vectors[..checked]
        .iter()
        .map(|q| {
            let mut scored: Vec<(u64, f32)> = data
                .iter()
                .enumerate()
                .map(|(i, v)| (i as u64, q.iter().zip(v).map(|(a, b)| a * b).sum()))
                .collect();
            scored.select_nth_unstable_by(10, |a, b| b.1.total_cmp(&a.1));
            scored.truncate(10);
            scored.iter().map(|(i, _)| *i).collect()
        })
        .collect();

    for ef in [None, Some(128), Some(256)] {
        let search = |q: &Vec<f32>| {
            collection
                .search(top10(Query::Nearest(q.to_vec()), ef))
                .unwrap()
        };
        let mut found = 0;
        for (q, truth) in query_vectors[..checked].iter().zip(&truth) {
            let ids: Vec<u64> = search(q)
                .iter()
                .map(|p| serde_json::to_value(p.id).unwrap().as_u64().unwrap())
                .collect();
            found += truth.iter().filter(|t| ids.contains(t)).count();
        }
        let recall = found as f64 / (checked * 10) as f64;
        let started = Instant::now();
        let collection = Arc::clone(&collection);
        std::thread::scope(|scope| {
            for half in query_vectors.chunks(query_vectors.len().div_ceil(2)) {
                let collection = Arc::clone(&collection);
                scope.spawn(move || {
                    for q in half {
                        collection
                            .search(top10(Query::Nearest(q.to_vec()), ef))
                            .unwrap();
                    }
                });
            }
        });
        let qps = queries as f64 / started.elapsed().as_secs_f64();
        println!(
            "search hnsw_ef={}: recall@10 {recall:.4} at {qps:.0} QPS (2 threads, {queries} queries)",
            ef.map_or("default".into(), |e| e.to_string())
        );
    }
    drop(collection);
    keywords(&store, &data, &clusters, &query_vectors, &query_clusters);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The best 10 for `query`, without payloads or vectors.
fn top10(query: Query, hnsw_ef: Option<usize>) -> Search {
    Search {
        query,
        using: None,
        filter: None,
        limit: 10,
        offset: 0,
        score_threshold: None,
        with_payload: false,
        with_vector: false,
        exact: false,
        hnsw_ef,
    }
}

/// A text for a point of `cluster`: words of its topic among words every topic shares, the
/// way documents on one subject share their rarer words.
fn text(rng: &mut Rng, cluster: usize, words: usize) -> String {
    (0..words)
        .map(|_| {
            if rng.next() < 0.4 {
                format!("topic{cluster}word{}", (rng.next() * 30.0) as usize)
            } else {
                format!("common{}", (rng.next() * 500.0) as usize)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The same points with texts in a collection with a keyword index: upsert rate, and QPS of
/// keyword (BM25) and hybrid search; a keyword hit must hold a query word.
fn keywords(
    store: &Store,
    data: &[Vec<f32>],
    clusters: &[usize],
    query_vectors: &[Vec<f32>],
    query_clusters: &[usize],
) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let collection = store
        .create(
            "bench-keywords",
            CollectionSettings {
                vectors: VectorsConfig::Single(VectorSpace {
                    size: DIMENSIONS,
                    distance: DistanceName::Cosine,
                }),
                keywords: Some(KeywordSettings::default()),
            },
        )
        .unwrap();
    let texts: Vec<String> = clusters.iter().map(|&c| text(&mut rng, c, 12)).collect();
    let started = Instant::now();
    for (batch, chunk) in data.chunks(1000).enumerate() {
        let points = chunk
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let id = batch * 1000 + i;
                NewPoint {
                    id: (id as u64).into(),
                    vectors: BTreeMap::from([(String::new(), v.clone())]),
                    payload: serde_json::Map::from_iter([(
                        "text".to_owned(),
                        serde_json::Value::String(texts[id].clone()),
                    )]),
                    text: Some(texts[id].clone()),
                }
            })
            .collect();
        collection.upsert(points).unwrap();
    }
    collection.optimize().unwrap();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "keywords: {} points with 12-word texts upserted and indexed in {seconds:.2} s = {:.0} points/s",
        data.len(),
        data.len() as f64 / seconds
    );
    let query_texts: Vec<String> = query_clusters
        .iter()
        .map(|&c| {
            (0..3)
                .map(|_| format!("topic{c}word{}", (rng.next() * 30.0) as usize))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    // Every keyword hit holds one of the query's words.
    let mut hits = 0;
    let mut holding = 0;
    for q in query_texts.iter().take(100) {
        let found = collection
            .search(Search {
                with_payload: true,
                ..top10(Query::Keywords(q.clone()), None)
            })
            .unwrap();
        for point in &found {
            hits += 1;
            let text = point.payload.as_ref().unwrap().0["text"].as_str().unwrap();
            holding += usize::from(q.split(' ').any(|w| text.split(' ').any(|t| t == w)));
        }
    }
    println!(
        "keywords: {holding} of {hits} top-10 hits hold a query word (100 queries of 3 topic words)"
    );
    for (name, hybrid) in [("keywords", false), ("hybrid", true)] {
        let started = Instant::now();
        std::thread::scope(|scope| {
            let half = query_texts.len().div_ceil(2);
            for (texts, vectors) in query_texts.chunks(half).zip(query_vectors.chunks(half)) {
                let collection = &collection;
                scope.spawn(move || {
                    for (text, vector) in texts.iter().zip(vectors) {
                        let query = if hybrid {
                            Query::Hybrid {
                                vector: vector.clone(),
                                text: text.clone(),
                                rrf_k: 60,
                            }
                        } else {
                            Query::Keywords(text.clone())
                        };
                        collection.search(top10(query, None)).unwrap();
                    }
                });
            }
        });
        println!(
            "search {name}: {:.0} QPS (2 threads, {} queries, top 10)",
            query_texts.len() as f64 / started.elapsed().as_secs_f64(),
            query_texts.len()
        );
    }
}
