//! Queries: nearest to a vector, best keyword (BM25) match, both fused by reciprocal rank,
//! recommendations from examples, and results grouped by a payload key.

use std::collections::HashMap;

use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::{
    Filter, Fusion, NamedQuery, PointId, Prefetch, QueryEnum, QueryRequest, RecommendQuery,
    ScoredPoint, ScoringQuery, SearchParams, VectorInternal, VectorStructInternal,
    WithPayloadInterface, WithVector,
};
use serde_json::{Value, json};

use super::VectorError;
use super::collections::{Collection, KEYWORDS_VECTOR, VectorSpace, point_id_text};

/// Reciprocal rank fusion's constant when none is given: the original paper's 60, which keeps
/// one list's top hit from outweighing agreement between the lists.
pub const DEFAULT_RRF_K: usize = 60;
/// The most points one query may look at to fill groups.
const MAX_GROUP_SCAN: usize = 10_000;

/// An example for a recommendation: a stored point or a vector.
#[derive(Debug, Clone)]
pub enum Example {
    Point(PointId),
    Vector(Vec<f32>),
}

/// How examples become a query (Qdrant's names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RecommendStrategy {
    /// One query vector: twice the positives' mean minus the negatives' mean.
    #[default]
    AverageVector,
    /// Each point scored by its best positive, penalized when a negative is closer.
    BestScore,
    /// Each point scored by its summed similarity to positives minus to negatives.
    SumScores,
}

/// What a search looks for.
#[derive(Debug, Clone)]
pub enum Query {
    /// The points nearest to a vector.
    Nearest(Vec<f32>),
    /// The points whose texts best match the words of a text (BM25).
    Keywords(String),
    /// Both, fused by reciprocal rank with constant `rrf_k`.
    Hybrid {
        vector: Vec<f32>,
        text: String,
        rrf_k: usize,
    },
    /// Points like the positive examples and unlike the negative ones; the examples that are
    /// stored points are left out of the results.
    Recommend {
        positive: Vec<Example>,
        negative: Vec<Example>,
        strategy: RecommendStrategy,
    },
}

/// A search: the query and how results are chosen and returned.
#[derive(Debug, Clone)]
pub struct Search {
    pub query: Query,
    /// The named vector to search (collections with several).
    pub using: Option<String>,
    pub filter: Option<Filter>,
    pub limit: usize,
    pub offset: usize,
    pub score_threshold: Option<f32>,
    pub with_payload: bool,
    pub with_vector: bool,
    /// Compare with every point instead of walking the index.
    pub exact: bool,
    /// The index walk's beam width (higher: better recall, slower).
    pub hnsw_ef: Option<usize>,
}

/// Results that share a value of the grouping key.
#[derive(Debug, Clone)]
pub struct Group {
    /// The key's value: a string or an integer.
    pub key: Value,
    pub hits: Vec<ScoredPoint>,
}

/// A query as the engine takes it.
struct EngineQuery {
    scoring: Option<ScoringQuery>,
    /// The lists a fusion combines.
    prefetches: Vec<Prefetch>,
    /// Example points a recommendation leaves out.
    excluded: Vec<PointId>,
}

impl Collection {
    fn check_dimensions(&self, space: VectorSpace, vector: &[f32]) -> Result<(), VectorError> {
        if vector.len() != space.size {
            return Err(VectorError::DimensionMismatch(format!(
                "the collection's vectors have {} dimensions; the query has {}",
                space.size,
                vector.len()
            )));
        }
        Ok(())
    }

    fn keyword_query(&self, text: &str) -> Result<NamedQuery<VectorInternal>, VectorError> {
        let keywords = self.keywords.as_ref().ok_or_else(|| {
            VectorError::invalid(
                "mode",
                "the collection has no keyword index; create it with `keywords` to search by words",
            )
        })?;
        Ok(NamedQuery {
            query: VectorInternal::Sparse(keywords.query(text)),
            using: Some(KEYWORDS_VECTOR.to_owned()),
        })
    }

    /// The stored vectors (in space `name`) of the examples that are points.
    fn example_vectors(
        &self,
        examples: &[Example],
        field: &str,
        name: &str,
        space: VectorSpace,
    ) -> Result<Vec<Vec<f32>>, VectorError> {
        let ids: Vec<PointId> = examples
            .iter()
            .filter_map(|e| match e {
                Example::Point(id) => Some(*id),
                Example::Vector(_) => None,
            })
            .collect();
        let mut stored: HashMap<PointId, Vec<f32>> = HashMap::new();
        if !ids.is_empty() {
            for record in self.retrieve(&ids, false, true)? {
                let vector = match record.vector {
                    Some(VectorStructInternal::Single(v)) => Some(v),
                    Some(VectorStructInternal::Named(mut named)) => match named.remove(name) {
                        Some(VectorInternal::Dense(v)) => Some(v),
                        _ => None,
                    },
                    _ => None,
                };
                if let Some(vector) = vector {
                    stored.insert(record.id, vector);
                }
            }
        }
        examples
            .iter()
            .map(|example| match example {
                Example::Point(id) => stored.get(id).cloned().ok_or_else(|| {
                    VectorError::invalid(
                        field,
                        format!(
                            "point {} does not exist or has no such vector",
                            point_id_text(id)
                        ),
                    )
                }),
                Example::Vector(v) => {
                    self.check_dimensions(space, v)?;
                    Ok(v.clone())
                }
            })
            .collect()
    }

    /// The engine's form of `query`.
    fn scoring(
        &self,
        query: Query,
        using: Option<&str>,
        prefetch_limit: usize,
        params: SearchParams,
    ) -> Result<EngineQuery, VectorError> {
        let dense = |vector: Vec<f32>| -> Result<NamedQuery<VectorInternal>, VectorError> {
            let (name, space) = self.vectors.space(using)?;
            self.check_dimensions(space, &vector)?;
            Ok(NamedQuery {
                query: VectorInternal::Dense(vector),
                using: (!name.is_empty()).then_some(name),
            })
        };
        let nearest = |q| Some(ScoringQuery::Vector(QueryEnum::Nearest(q)));
        let plain = |scoring| EngineQuery {
            scoring,
            prefetches: Vec::new(),
            excluded: Vec::new(),
        };
        Ok(match query {
            Query::Nearest(vector) => plain(nearest(dense(vector)?)),
            Query::Keywords(text) => plain(nearest(self.keyword_query(&text)?)),
            Query::Hybrid {
                vector,
                text,
                rrf_k,
            } => {
                let prefetch = |q| Prefetch {
                    prefetches: Vec::new(),
                    query: nearest(q),
                    limit: prefetch_limit,
                    params: Some(params),
                    filter: None,
                    score_threshold: None,
                };
                let prefetches = vec![
                    prefetch(dense(vector)?),
                    prefetch(self.keyword_query(&text)?),
                ];
                let fusion = ScoringQuery::Fusion(Fusion::Rrf {
                    k: rrf_k.max(1),
                    weights: None,
                });
                EngineQuery {
                    scoring: Some(fusion),
                    prefetches,
                    excluded: Vec::new(),
                }
            }
            Query::Recommend {
                positive,
                negative,
                strategy,
            } => {
                let (name, space) = self.vectors.space(using)?;
                if positive.is_empty()
                    && (strategy == RecommendStrategy::AverageVector || negative.is_empty())
                {
                    return Err(VectorError::invalid(
                        "positive",
                        "give at least one positive example",
                    ));
                }
                let excluded = positive
                    .iter()
                    .chain(&negative)
                    .filter_map(|e| match e {
                        Example::Point(id) => Some(*id),
                        Example::Vector(_) => None,
                    })
                    .collect();
                let positives = self.example_vectors(&positive, "positive", &name, space)?;
                let negatives = self.example_vectors(&negative, "negative", &name, space)?;
                let using = (!name.is_empty()).then_some(name);
                let reco = |positives: Vec<Vec<f32>>, negatives: Vec<Vec<f32>>| NamedQuery {
                    query: RecommendQuery::new(
                        positives.into_iter().map(VectorInternal::Dense).collect(),
                        negatives.into_iter().map(VectorInternal::Dense).collect(),
                    ),
                    using: using.clone(),
                };
                let query = match strategy {
                    RecommendStrategy::AverageVector => QueryEnum::Nearest(NamedQuery {
                        query: VectorInternal::Dense(average_vector(&positives, &negatives)),
                        using: using.clone(),
                    }),
                    RecommendStrategy::BestScore => {
                        QueryEnum::RecommendBestScore(reco(positives, negatives))
                    }
                    RecommendStrategy::SumScores => {
                        QueryEnum::RecommendSumScores(reco(positives, negatives))
                    }
                };
                EngineQuery {
                    scoring: Some(ScoringQuery::Vector(query)),
                    prefetches: Vec::new(),
                    excluded,
                }
            }
        })
    }

    /// The best `search.limit` points after `search.offset` for the query, best first.
    pub fn search(&self, search: Search) -> Result<Vec<ScoredPoint>, VectorError> {
        let Search {
            query,
            using,
            filter,
            limit,
            offset,
            score_threshold,
            with_payload,
            with_vector,
            exact,
            hnsw_ef,
        } = search;
        let params = SearchParams {
            hnsw_ef,
            exact,
            ..SearchParams::default()
        };
        // Each list fused holds more than the page asked for, so that a point ranked lower
        // in one list but high in the other still makes it.
        let prefetch_limit = ((offset + limit) * 2).max(50);
        let EngineQuery {
            scoring,
            prefetches,
            excluded,
        } = self.scoring(query, using.as_deref(), prefetch_limit, params)?;
        let filter = Filter::merge_opts(filter, exclude(&excluded)?);
        // The engine applies the filter to each list before fusing them.
        let request = QueryRequest {
            query: scoring,
            filter,
            prefetches,
            score_threshold: score_threshold.map(OrderedFloat),
            limit,
            offset,
            params: Some(params),
            with_vector: WithVector::Bool(with_vector),
            with_payload: WithPayloadInterface::Bool(with_payload),
        };
        // The shard returns the first `offset + limit`; skipping is the caller's part (in
        // Qdrant, the collection's).
        let mut found = self.shard.query(request)?;
        found.drain(..offset.min(found.len()));
        found.truncate(limit);
        Ok(found)
    }

    /// Up to `search.limit` groups of up to `group_size` points sharing a value of payload key
    /// `group_by`, best first; points without the key are left out, a point whose key holds a
    /// list joins the group of each value.
    pub fn search_groups(
        &self,
        mut search: Search,
        group_by: &str,
        group_size: usize,
    ) -> Result<Vec<Group>, VectorError> {
        let groups_wanted = search.limit;
        let keep_payload = search.with_payload;
        search.with_payload = true;
        search.offset = 0;
        let mut scan = (groups_wanted * group_size * 2).clamp(16, MAX_GROUP_SCAN);
        loop {
            search.limit = scan;
            let found = self.search(search.clone())?;
            let exhausted = found.len() < scan || scan >= MAX_GROUP_SCAN;
            let mut groups = group(found, group_by, groups_wanted, group_size);
            let full =
                groups.len() == groups_wanted && groups.iter().all(|g| g.hits.len() == group_size);
            if full || exhausted {
                if !keep_payload {
                    for hit in groups.iter_mut().flat_map(|g| g.hits.iter_mut()) {
                        hit.payload = None;
                    }
                }
                return Ok(groups);
            }
            scan = (scan * 4).min(MAX_GROUP_SCAN);
        }
    }
}

/// Qdrant's average-vector recommendation: the positives' mean, pushed away from the
/// negatives' mean by as much again.
fn average_vector(positives: &[Vec<f32>], negatives: &[Vec<f32>]) -> Vec<f32> {
    let mean = |vectors: &[Vec<f32>]| -> Vec<f32> {
        let mut sum = vec![0.0f32; vectors.first().map_or(0, Vec::len)];
        for v in vectors {
            for (s, x) in sum.iter_mut().zip(v) {
                *s += x;
            }
        }
        let n = vectors.len().max(1) as f32;
        sum.into_iter().map(|s| s / n).collect()
    };
    let positive = mean(positives);
    if negatives.is_empty() {
        return positive;
    }
    let negative = mean(negatives);
    positive
        .iter()
        .zip(&negative)
        .map(|(p, n)| p + (p - n))
        .collect()
}

/// A filter that leaves out `ids` (none when there are none).
fn exclude(ids: &[PointId]) -> Result<Option<Filter>, VectorError> {
    if ids.is_empty() {
        return Ok(None);
    }
    serde_json::from_value(json!({"must_not": [{"has_id": ids}]}))
        .map(Some)
        .map_err(|e| VectorError::Internal(e.to_string()))
}

/// The values of payload key `key` (dotted for nested objects) that a point can be grouped by.
fn group_keys(payload: Option<&qdrant_edge::Payload>, key: &str) -> Vec<Value> {
    let Some(payload) = payload else {
        return Vec::new();
    };
    let mut parts = key.split('.');
    let mut value = parts.next().and_then(|first| payload.0.get(first));
    for part in parts {
        value = value.and_then(|v| v.get(part));
    }
    let groupable = |v: &&Value| v.is_string() || v.is_i64() || v.is_u64();
    match value {
        Some(Value::Array(items)) => items.iter().filter(groupable).cloned().collect(),
        Some(v) if groupable(&v) => vec![v.clone()],
        _ => Vec::new(),
    }
}

/// `found` (best first) grouped by key: groups in order of their best point.
fn group(found: Vec<ScoredPoint>, key: &str, groups_wanted: usize, size: usize) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for point in found {
        for value in group_keys(point.payload.as_ref(), key) {
            let tag = value.to_string();
            match index.get(&tag) {
                Some(&i) if groups[i].hits.len() < size => groups[i].hits.push(point.clone()),
                Some(_) => {}
                None if groups.len() < groups_wanted => {
                    index.insert(tag, groups.len());
                    groups.push(Group {
                        key: value,
                        hits: vec![point.clone()],
                    });
                }
                None => {}
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_vector_moves_away_from_negatives() {
        assert_eq!(
            average_vector(&[vec![1.0, 0.0], vec![0.0, 1.0]], &[]),
            vec![0.5, 0.5]
        );
        assert_eq!(
            average_vector(&[vec![1.0, 0.0]], &[vec![0.0, 1.0]]),
            vec![2.0, -1.0]
        );
    }

    #[test]
    fn group_keys_follow_dotted_paths_and_lists() {
        let payload = qdrant_edge::Payload(
            json!({"a": {"b": ["x", 3, 1.5, null]}, "c": "y", "d": true})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        assert_eq!(
            group_keys(Some(&payload), "a.b"),
            vec![json!("x"), json!(3)]
        );
        assert_eq!(group_keys(Some(&payload), "c"), vec![json!("y")]);
        assert!(group_keys(Some(&payload), "d").is_empty());
        assert!(group_keys(Some(&payload), "missing").is_empty());
    }
}
