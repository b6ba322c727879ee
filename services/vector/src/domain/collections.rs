//! Collections on disk, each one Qdrant edge shard in its own directory, loaded at start.
//!
//! Layout: `<root>/collections/<name>/collection.json` (our settings) and `.../shard/` (the
//! engine's segments and write-ahead log). Every write goes through the shard's WAL first, so a
//! restart finds what was acknowledged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};
use qdrant_edge::{
    CountRequest, CreateIndex, DeletePayloadOp, Distance, EdgeConfigBuilder, EdgeShard,
    EdgeSparseVectorParamsBuilder, EdgeVectorParams, FieldIndexOperations, Filter, JsonPath,
    Modifier, Payload, PayloadFieldSchema, PayloadOps, PayloadSchemaType, PointId,
    PointInsertOperations, PointOperations, PointStructPersisted, Record, ScrollRequest,
    SetPayloadOp, SparseVector, UpdateOperation, VectorPersisted, VectorStructPersisted,
    WithPayloadInterface, WithVector,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::VectorError;

/// The file holding a collection's settings.
const SETTINGS_FILE: &str = "collection.json";
/// Largest vector accepted.
pub const MAX_DIMENSIONS: usize = 65_536;
/// Points a collection's appendable segment takes before the shard is optimized (HNSW built).
const OPTIMIZE_EVERY: usize = 20_000;

/// How vectors are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DistanceName {
    Cosine,
    Dot,
    Euclid,
    Manhattan,
}

impl DistanceName {
    fn engine(self) -> Distance {
        match self {
            Self::Cosine => Distance::Cosine,
            Self::Dot => Distance::Dot,
            Self::Euclid => Distance::Euclid,
            Self::Manhattan => Distance::Manhattan,
        }
    }
}

/// One vector space of a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorSpace {
    pub size: usize,
    pub distance: DistanceName,
}

/// A collection's vectors: one unnamed space, or several named ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum VectorsConfig {
    Single(VectorSpace),
    Named(BTreeMap<String, VectorSpace>),
}

impl VectorsConfig {
    /// The space `using` names (`None`: the unnamed one, or the only named one).
    pub fn space(&self, using: Option<&str>) -> Result<(String, VectorSpace), VectorError> {
        match (self, using) {
            (Self::Single(space), None | Some("")) => Ok((String::new(), *space)),
            (Self::Single(_), Some(name)) => Err(VectorError::invalid(
                "using",
                format!("the collection has one unnamed vector, not `{name}`"),
            )),
            (Self::Named(spaces), Some(name)) => spaces
                .get(name)
                .map(|space| (name.to_owned(), *space))
                .ok_or_else(|| {
                    VectorError::invalid("using", format!("the collection has no vector `{name}`"))
                }),
            (Self::Named(spaces), None) if spaces.len() == 1 => spaces
                .iter()
                .next()
                .map(|(name, space)| (name.clone(), *space))
                .ok_or_else(|| VectorError::Internal("no vector space".into())),
            (Self::Named(spaces), None) => Err(VectorError::invalid(
                "using",
                format!(
                    "the collection has several vectors; name one of: {}",
                    spaces.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    }

    fn validate(&self) -> Result<(), VectorError> {
        let spaces: Vec<(&str, &VectorSpace)> = match self {
            Self::Single(space) => vec![("", space)],
            Self::Named(spaces) if spaces.is_empty() => {
                return Err(VectorError::invalid("vectors", "name at least one vector"));
            }
            Self::Named(spaces) => spaces.iter().map(|(n, s)| (n.as_str(), s)).collect(),
        };
        for (name, space) in spaces {
            if !(1..=MAX_DIMENSIONS).contains(&space.size) {
                return Err(VectorError::invalid(
                    if name.is_empty() {
                        "vectors.size".into()
                    } else {
                        format!("vectors.{name}.size")
                    }
                    .as_str(),
                    format!("must be between 1 and {MAX_DIMENSIONS}"),
                ));
            }
        }
        Ok(())
    }
}

/// The sparse vector that holds a point's BM25 keyword weights.
pub const KEYWORDS_VECTOR: &str = "bm25";

/// Keyword (BM25) search over the points' texts, set when a collection is created.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeywordSettings {
    /// The language whose stop words and stemmer apply (default english).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

impl KeywordSettings {
    /// The BM25 model these settings describe (k1 1.2, b 0.75, as Qdrant's).
    fn model(&self) -> Result<EdgeBm25, VectorError> {
        EdgeBm25::new(EdgeBm25Config {
            language: self.language.clone(),
            ..EdgeBm25Config::default()
        })
        .map_err(|e| VectorError::invalid("keywords.language", e.to_string()))
    }
}

/// Everything a collection is created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionSettings {
    pub vectors: VectorsConfig,
    /// BM25 keyword search, when enabled.
    pub keywords: Option<KeywordSettings>,
}

/// `collection.json`: the settings, tagged with a format number so that a named vector called
/// `vectors` is never mistaken for them; the first format held only the vectors.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum SettingsFile {
    Current {
        format: u32,
        vectors: VectorsConfig,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keywords: Option<KeywordSettings>,
    },
    VectorsOnly(VectorsConfig),
}

impl From<SettingsFile> for CollectionSettings {
    fn from(file: SettingsFile) -> Self {
        match file {
            SettingsFile::Current {
                vectors, keywords, ..
            } => Self { vectors, keywords },
            SettingsFile::VectorsOnly(vectors) => Self {
                vectors,
                keywords: None,
            },
        }
    }
}

/// A collection's keyword search: its settings and the model that weighs words.
pub struct Keywords {
    pub settings: KeywordSettings,
    model: EdgeBm25,
}

impl Keywords {
    fn new(settings: KeywordSettings) -> Result<Self, VectorError> {
        let model = settings.model()?;
        Ok(Self { settings, model })
    }

    /// The document-side BM25 weights of `text` (term frequency, length-normalized).
    pub fn document(&self, text: &str) -> SparseVector {
        self.model.embed_document(text)
    }

    /// The query-side weights of `text` (one per distinct word; the engine applies IDF).
    pub fn query(&self, text: &str) -> SparseVector {
        self.model.embed_query(text)
    }
}

/// A point to write: its id, its vectors by space name (`""` for the unnamed one), its payload.
#[derive(Debug, Clone)]
pub struct NewPoint {
    pub id: PointId,
    pub vectors: BTreeMap<String, Vec<f32>>,
    pub payload: Map<String, Value>,
    /// The text whose words keyword search finds the point by (collections with keywords).
    pub text: Option<String>,
}

/// Which points an operation touches.
#[derive(Debug, Clone)]
pub enum Selector {
    Ids(Vec<PointId>),
    Filter(Filter),
}

/// A collection: its settings and its shard.
pub struct Collection {
    pub name: String,
    pub vectors: VectorsConfig,
    pub keywords: Option<Keywords>,
    pub(super) shard: EdgeShard,
    /// Points written since the last optimization.
    pending: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collection")
            .field("name", &self.name)
            .field("vectors", &self.vectors)
            .field("keywords", &self.keywords.as_ref().map(|k| &k.settings))
            .finish_non_exhaustive()
    }
}

/// Counts and settings of a collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionInfo {
    pub points: usize,
    pub indexed_vectors: usize,
    pub segments: usize,
    /// Indexed payload fields and their types.
    pub payload_indexes: BTreeMap<String, String>,
}

fn with_payload(yes: bool) -> WithPayloadInterface {
    WithPayloadInterface::Bool(yes)
}

fn with_vector(yes: bool) -> WithVector {
    WithVector::Bool(yes)
}

impl Collection {
    fn check_vectors(&self, point: &NewPoint) -> Result<(), VectorError> {
        for (name, vector) in &point.vectors {
            let (_, space) = self
                .vectors
                .space(Some(name.as_str()).filter(|n| !n.is_empty()))?;
            if vector.len() != space.size {
                return Err(VectorError::DimensionMismatch(format!(
                    "point {}: the collection's vectors{} have {} dimensions; got {}",
                    point_id_text(&point.id),
                    if name.is_empty() {
                        String::new()
                    } else {
                        format!(" `{name}`")
                    },
                    space.size,
                    vector.len()
                )));
            }
            if vector.iter().any(|x| !x.is_finite()) {
                return Err(VectorError::invalid(
                    "points",
                    "vectors must be finite numbers",
                ));
            }
        }
        if point.vectors.is_empty() {
            return Err(VectorError::invalid(
                "points",
                format!("point {} has no vector", point_id_text(&point.id)),
            ));
        }
        Ok(())
    }

    /// Writes (or replaces) `points`.
    pub fn upsert(&self, points: Vec<NewPoint>) -> Result<(), VectorError> {
        for point in &points {
            self.check_vectors(point)?;
        }
        let count = points.len();
        let points = points
            .into_iter()
            .map(|point| {
                let sparse = match (&self.keywords, &point.text) {
                    (Some(keywords), Some(text)) => Some(keywords.document(text)),
                    _ => None,
                };
                let vector =
                    match (&self.vectors, sparse) {
                        (VectorsConfig::Single(_), None) => VectorStructPersisted::Single(
                            point.vectors.into_values().next().unwrap_or_default(),
                        ),
                        (_, sparse) => VectorStructPersisted::Named(
                            point
                                .vectors
                                .into_iter()
                                .map(|(name, v)| (name, VectorPersisted::Dense(v)))
                                .chain(sparse.map(|s| {
                                    (KEYWORDS_VECTOR.to_owned(), VectorPersisted::Sparse(s))
                                }))
                                .collect(),
                        ),
                    };
                PointStructPersisted {
                    id: point.id,
                    vector,
                    payload: Some(Payload(point.payload)),
                }
            })
            .collect();
        self.shard.update(UpdateOperation::PointOperation(
            PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)),
        ))?;
        let pending = self
            .pending
            .fetch_add(count, std::sync::atomic::Ordering::AcqRel)
            + count;
        if pending >= OPTIMIZE_EVERY {
            self.optimize()?;
        }
        Ok(())
    }

    /// Builds the search index over what was written (HNSW), so searches stop scanning.
    pub fn optimize(&self) -> Result<(), VectorError> {
        self.pending.store(0, std::sync::atomic::Ordering::Release);
        self.shard.optimize()?;
        Ok(())
    }

    /// The points with these ids that exist, in the order asked.
    pub fn retrieve(
        &self,
        ids: &[PointId],
        payload: bool,
        vector: bool,
    ) -> Result<Vec<Record>, VectorError> {
        Ok(self
            .shard
            .retrieve(ids, Some(with_payload(payload)), Some(with_vector(vector)))?)
    }

    pub fn delete(&self, selector: Selector) -> Result<(), VectorError> {
        let operation = match selector {
            Selector::Ids(ids) => PointOperations::DeletePoints { ids },
            Selector::Filter(filter) => PointOperations::DeletePointsByFilter(filter),
        };
        self.shard
            .update(UpdateOperation::PointOperation(operation))?;
        Ok(())
    }

    /// Merges `payload` into the selected points' payloads.
    pub fn set_payload(
        &self,
        payload: Map<String, Value>,
        selector: Selector,
    ) -> Result<(), VectorError> {
        let (points, filter) = split(selector);
        self.shard
            .update(UpdateOperation::PayloadOperation(PayloadOps::SetPayload(
                SetPayloadOp {
                    payload: Payload(payload),
                    points,
                    filter,
                    key: None,
                },
            )))?;
        Ok(())
    }

    /// Removes `keys` from the selected points' payloads.
    pub fn delete_payload(&self, keys: &[String], selector: Selector) -> Result<(), VectorError> {
        let (points, filter) = split(selector);
        let keys = keys
            .iter()
            .map(|k| json_path(k))
            .collect::<Result<Vec<_>, _>>()?;
        self.shard.update(UpdateOperation::PayloadOperation(
            PayloadOps::DeletePayload(DeletePayloadOp {
                keys,
                points,
                filter,
            }),
        ))?;
        Ok(())
    }

    /// Up to `limit` points from `offset` (an id) on, in id order, and the id to continue from.
    pub fn scroll(
        &self,
        filter: Option<Filter>,
        offset: Option<PointId>,
        limit: usize,
        payload: bool,
        vector: bool,
    ) -> Result<(Vec<Record>, Option<PointId>), VectorError> {
        Ok(self.shard.scroll(ScrollRequest {
            offset,
            limit: Some(limit),
            filter,
            with_payload: Some(with_payload(payload)),
            with_vector: with_vector(vector),
            order_by: None,
        })?)
    }

    pub fn count(&self, filter: Option<Filter>) -> Result<usize, VectorError> {
        Ok(self.shard.count(CountRequest {
            filter,
            exact: true,
        })?)
    }

    /// Indexes payload field `field` as `kind` (keyword, integer, float, bool, text, uuid,
    /// datetime, geo), for fast filtering.
    pub fn create_index(&self, field: &str, kind: PayloadSchemaType) -> Result<(), VectorError> {
        self.shard.update(UpdateOperation::FieldIndexOperation(
            FieldIndexOperations::CreateIndex(CreateIndex {
                field_name: json_path(field)?,
                field_schema: Some(PayloadFieldSchema::FieldType(kind)),
            }),
        ))?;
        Ok(())
    }

    pub fn info(&self) -> CollectionInfo {
        let info = self.shard.info();
        CollectionInfo {
            points: info.points_count,
            indexed_vectors: info.indexed_vectors_count,
            segments: info.segments_count,
            payload_indexes: info
                .payload_schema
                .iter()
                .map(|(key, index)| {
                    (
                        key.to_string(),
                        serde_json::to_value(index.data_type)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                    )
                })
                .collect(),
        }
    }
}

fn split(selector: Selector) -> (Option<Vec<PointId>>, Option<Filter>) {
    match selector {
        Selector::Ids(ids) => (Some(ids), None),
        Selector::Filter(filter) => (None, Some(filter)),
    }
}

fn json_path(key: &str) -> Result<JsonPath, VectorError> {
    key.parse::<JsonPath>()
        .map_err(|_| VectorError::invalid("key", format!("`{key}` is not a payload key path")))
}

/// A point id as text, for messages.
pub fn point_id_text(id: &PointId) -> String {
    serde_json::to_string(id).unwrap_or_default()
}

/// Every collection, by name.
pub struct Store {
    root: PathBuf,
    collections: RwLock<BTreeMap<String, Arc<Collection>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

fn check_name(name: &str) -> Result<(), VectorError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(VectorError::invalid(
            "name",
            "1–64 letters, digits, `_` or `-`",
        ))
    }
}

fn io(context: &Path, error: impl std::fmt::Display) -> VectorError {
    VectorError::Internal(format!("{}: {error}", context.display()))
}

impl Store {
    /// Opens (or starts) the store at `root`, loading every collection found there.
    pub fn open(root: &Path) -> Result<Self, VectorError> {
        let dir = root.join("collections");
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let mut collections = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| io(&dir, e))? {
            let path = entry.map_err(|e| io(&dir, e))?.path();
            let settings = path.join(SETTINGS_FILE);
            if !settings.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&settings).map_err(|e| io(&settings, e))?;
            let file: SettingsFile = serde_json::from_str(&text).map_err(|e| io(&settings, e))?;
            let CollectionSettings { vectors, keywords } = file.into();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let shard = EdgeShard::load(&path.join("shard"), None)?;
            let keywords = keywords.map(Keywords::new).transpose()?;
            collections.insert(
                name.clone(),
                Arc::new(Collection {
                    name,
                    vectors,
                    keywords,
                    shard,
                    pending: Default::default(),
                }),
            );
        }
        Ok(Self {
            root: dir,
            collections: RwLock::new(collections),
        })
    }

    pub fn get(&self, name: &str) -> Result<Arc<Collection>, VectorError> {
        self.collections
            .read()
            .map_err(|_| VectorError::Internal("collections lock poisoned".into()))?
            .get(name)
            .cloned()
            .ok_or_else(|| VectorError::NoCollection(name.to_owned()))
    }

    pub fn list(&self) -> Vec<Arc<Collection>> {
        self.collections
            .read()
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Creates collection `name`.
    pub fn create(
        &self,
        name: &str,
        settings: CollectionSettings,
    ) -> Result<Arc<Collection>, VectorError> {
        check_name(name)?;
        let CollectionSettings { vectors, keywords } = settings;
        vectors.validate()?;
        if keywords.is_some()
            && matches!(&vectors, VectorsConfig::Named(spaces) if spaces.contains_key(KEYWORDS_VECTOR))
        {
            return Err(VectorError::invalid(
                "vectors",
                format!(
                    "`{KEYWORDS_VECTOR}` is the keyword index's name; call the vector otherwise"
                ),
            ));
        }
        let keywords = keywords.map(Keywords::new).transpose()?;
        let mut collections = self
            .collections
            .write()
            .map_err(|_| VectorError::Internal("collections lock poisoned".into()))?;
        if collections.contains_key(name) {
            return Err(VectorError::Exists(name.to_owned()));
        }
        let dir = self.root.join(name);
        // A directory left by a crash half-way through a delete is cleared first.
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| io(&dir, e))?;
        }
        let mut config = EdgeConfigBuilder::new();
        match &vectors {
            VectorsConfig::Single(space) => {
                config = config.vector(
                    "",
                    EdgeVectorParams::builder(space.size, space.distance.engine()).build(),
                );
            }
            VectorsConfig::Named(spaces) => {
                for (space_name, space) in spaces {
                    config = config.vector(
                        space_name.as_str(),
                        EdgeVectorParams::builder(space.size, space.distance.engine()).build(),
                    );
                }
            }
        }
        if keywords.is_some() {
            // Qdrant's BM25 recipe: term weights stored, inverse document frequency applied
            // by the engine at query time from its own counts.
            config = config.sparse_vector(
                KEYWORDS_VECTOR,
                EdgeSparseVectorParamsBuilder::new()
                    .modifier(Modifier::Idf)
                    .build(),
            );
        }
        let shard_dir = dir.join("shard");
        std::fs::create_dir_all(&shard_dir).map_err(|e| io(&shard_dir, e))?;
        let shard = EdgeShard::new(&shard_dir, config.build())?;
        // The settings file last: a directory without it is not a collection.
        let settings = dir.join(SETTINGS_FILE);
        let file = SettingsFile::Current {
            format: 2,
            vectors: vectors.clone(),
            keywords: keywords.as_ref().map(|k| k.settings.clone()),
        };
        let text = serde_json::to_string_pretty(&file).map_err(|e| io(&settings, e))?;
        std::fs::write(&settings, text).map_err(|e| io(&settings, e))?;
        let collection = Arc::new(Collection {
            name: name.to_owned(),
            vectors,
            keywords,
            shard,
            pending: Default::default(),
        });
        collections.insert(name.to_owned(), Arc::clone(&collection));
        Ok(collection)
    }

    /// Deletes collection `name` and its files.
    pub fn delete(&self, name: &str) -> Result<(), VectorError> {
        let removed = self
            .collections
            .write()
            .map_err(|_| VectorError::Internal("collections lock poisoned".into()))?
            .remove(name)
            .ok_or_else(|| VectorError::NoCollection(name.to_owned()))?;
        let dir = self.root.join(name);
        // The settings file goes first, so a crash mid-way leaves no half collection behind.
        let _ = std::fs::remove_file(dir.join(SETTINGS_FILE));
        drop(removed);
        std::fs::remove_dir_all(&dir).map_err(|e| io(&dir, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> CollectionSettings {
        serde_json::from_str::<SettingsFile>(text)
            .map(CollectionSettings::from)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn settings_files_of_both_formats_load() {
        let space = VectorSpace {
            size: 3,
            distance: DistanceName::Dot,
        };
        // The first format: the vectors alone, unnamed or named (even a space named `vectors`).
        assert_eq!(
            settings(r#"{"size": 3, "distance": "dot"}"#),
            CollectionSettings {
                vectors: VectorsConfig::Single(space),
                keywords: None
            }
        );
        assert_eq!(
            settings(r#"{"vectors": {"size": 3, "distance": "dot"}}"#),
            CollectionSettings {
                vectors: VectorsConfig::Named(BTreeMap::from([("vectors".into(), space)])),
                keywords: None
            }
        );
        let current = CollectionSettings {
            vectors: VectorsConfig::Single(space),
            keywords: Some(KeywordSettings {
                language: Some("german".into()),
            }),
        };
        let written = serde_json::to_string(&SettingsFile::Current {
            format: 2,
            vectors: current.vectors.clone(),
            keywords: current.keywords.clone(),
        })
        .unwrap_or_default();
        assert_eq!(settings(&written), current);
    }
}
