//! Constrained decoding of JSON: a byte-level pushdown automaton compiled from a JSON Schema
//! (or "any JSON object" for `response_format: json_object`). Generation asks it whether a
//! token's bytes may come next, so the output always parses and follows the schema.
//!
//! Supported: `type` (one or a list), `properties` (generated in the order written),
//! `required`, `additionalProperties` (for objects without `properties`), `items`, `minItems`,
//! `maxItems`, `minLength`, `maxLength`, `enum`, `const`, `anyOf`/`oneOf` (the first
//! alternative that can start with the next byte is taken), `allOf` of one schema, and local
//! `$ref`s (`#/$defs/…`, `#/definitions/…`, `#`), recursive ones included. `pattern` and
//! `format` are not enforced.

use std::collections::HashMap;

use serde_json::Value;

/// Most properties one object schema may list (a candidate set is one `u64`).
const MAX_PROPERTIES: usize = 64;
/// Deepest nesting of arrays and objects.
const MAX_DEPTH: usize = 64;
/// Longest run of whitespace between tokens, so a model cannot pad forever.
const MAX_WHITESPACE_RUN: u8 = 24;
/// Most digits a number may have.
const MAX_DIGITS: u8 = 24;

type NodeId = usize;
const ANY: NodeId = 0;
const ANY_OBJECT: NodeId = 1;
const ANY_ARRAY: NodeId = 2;
const ANY_STRING: NodeId = 3;
const ANY_NUMBER: NodeId = 4;
const BOOLEAN: NodeId = 5;
const NULL: NodeId = 6;

#[derive(Debug, Clone)]
enum Node {
    Any,
    /// With `properties` empty, any keys whose values follow `additional` (`None`: no keys).
    Object {
        properties: Vec<(Vec<u8>, NodeId)>,
        required: u64,
        additional: Option<NodeId>,
    },
    Array {
        items: NodeId,
        min: u32,
        max: Option<u32>,
    },
    String {
        min: u32,
        max: Option<u32>,
    },
    Number {
        integer: bool,
    },
    /// Exact JSON texts, sorted.
    Literals(Vec<Vec<u8>>),
    Union(Vec<NodeId>),
    /// A `$ref` not yet resolved while compiling.
    Placeholder,
}

/// A compiled grammar.
#[derive(Debug, Clone)]
pub struct Grammar {
    nodes: Vec<Node>,
    root: NodeId,
}

/// Why a schema cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SchemaError(pub String);

impl Grammar {
    /// Any JSON object (`response_format: {"type": "json_object"}`).
    pub fn any_object() -> Self {
        Self {
            nodes: base_nodes(),
            root: ANY_OBJECT,
        }
    }

    /// The grammar of values valid under `schema`.
    pub fn from_schema(schema: &Value) -> Result<Self, SchemaError> {
        let mut compiler = Compiler {
            nodes: base_nodes(),
            root: schema,
            refs: HashMap::new(),
        };
        let root = compiler.compile(schema, 0)?;
        Ok(Self {
            nodes: compiler.nodes,
            root,
        })
    }

    /// The state before any byte.
    pub fn start(&self) -> JsonState {
        JsonState {
            stack: vec![Frame::Value(self.root)],
            whitespace: 0,
        }
    }
}

fn base_nodes() -> Vec<Node> {
    vec![
        Node::Any,
        Node::Object {
            properties: Vec::new(),
            required: 0,
            additional: Some(ANY),
        },
        Node::Array {
            items: ANY,
            min: 0,
            max: None,
        },
        Node::String { min: 0, max: None },
        Node::Number { integer: false },
        Node::Literals(vec![b"false".to_vec(), b"true".to_vec()]),
        Node::Literals(vec![b"null".to_vec()]),
    ]
}

struct Compiler<'a> {
    nodes: Vec<Node>,
    root: &'a Value,
    refs: HashMap<String, NodeId>,
}

fn count(schema: &Value, key: &str) -> Result<Option<u32>, SchemaError> {
    match schema.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| SchemaError(format!("`{key}` must be a non-negative integer"))),
    }
}

impl Compiler<'_> {
    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn compile(&mut self, schema: &Value, depth: usize) -> Result<NodeId, SchemaError> {
        if depth > MAX_DEPTH {
            return Err(SchemaError("the schema nests too deeply".into()));
        }
        let schema = match schema {
            Value::Bool(true) => return Ok(ANY),
            Value::Bool(false) => {
                return Err(SchemaError("a `false` schema admits no value".into()));
            }
            Value::Object(map) => map,
            _ => return Err(SchemaError("a schema must be an object".into())),
        };
        if let Some(reference) = schema.get("$ref") {
            let reference = reference
                .as_str()
                .ok_or_else(|| SchemaError("`$ref` must be a string".into()))?;
            return self.reference(reference, depth);
        }
        if let Some(constant) = schema.get("const") {
            return Ok(self.push(Node::Literals(vec![literal(constant)])));
        }
        if let Some(values) = schema.get("enum") {
            let values = values
                .as_array()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| SchemaError("`enum` must be a non-empty array".into()))?;
            let mut literals: Vec<Vec<u8>> = values.iter().map(literal).collect();
            literals.sort();
            literals.dedup();
            return Ok(self.push(Node::Literals(literals)));
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(alternatives) = schema.get(key) {
                let alternatives = alternatives
                    .as_array()
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| SchemaError(format!("`{key}` must be a non-empty array")))?;
                let ids = alternatives
                    .iter()
                    .map(|s| self.compile(s, depth + 1))
                    .collect::<Result<Vec<_>, _>>()?;
                return Ok(self.push(Node::Union(ids)));
            }
        }
        if let Some(all) = schema.get("allOf") {
            return match all.as_array().map(Vec::as_slice) {
                Some([one]) => self.compile(one, depth + 1),
                _ => Err(SchemaError(
                    "`allOf` is supported with exactly one schema".into(),
                )),
            };
        }
        match schema.get("type") {
            Some(Value::String(kind)) => self.typed(kind, schema, depth),
            Some(Value::Array(kinds)) if !kinds.is_empty() => {
                let ids = kinds
                    .iter()
                    .map(|k| {
                        k.as_str()
                            .ok_or_else(|| SchemaError("`type` entries must be strings".into()))
                            .and_then(|k| self.typed(k, schema, depth))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(self.push(Node::Union(ids)))
            }
            Some(_) => Err(SchemaError(
                "`type` must be a string or an array of strings".into(),
            )),
            None if schema.contains_key("properties") => self.typed("object", schema, depth),
            None if schema.contains_key("items") => self.typed("array", schema, depth),
            None => Ok(ANY),
        }
    }

    fn typed(
        &mut self,
        kind: &str,
        schema: &serde_json::Map<String, Value>,
        depth: usize,
    ) -> Result<NodeId, SchemaError> {
        let as_value = Value::Object(schema.clone());
        match kind {
            "object" => self.object(schema, depth),
            "array" => {
                let items = match schema.get("items") {
                    None => ANY,
                    Some(items) => self.compile(items, depth + 1)?,
                };
                let min = count(&as_value, "minItems")?.unwrap_or(0);
                let max = count(&as_value, "maxItems")?;
                if max.is_some_and(|max| max < min) {
                    return Err(SchemaError("`maxItems` is below `minItems`".into()));
                }
                Ok(self.push(Node::Array { items, min, max }))
            }
            "string" => {
                let min = count(&as_value, "minLength")?.unwrap_or(0);
                let max = count(&as_value, "maxLength")?;
                if max.is_some_and(|max| max < min) {
                    return Err(SchemaError("`maxLength` is below `minLength`".into()));
                }
                Ok(self.push(Node::String { min, max }))
            }
            "number" => Ok(ANY_NUMBER),
            "integer" => Ok(self.push(Node::Number { integer: true })),
            "boolean" => Ok(BOOLEAN),
            "null" => Ok(NULL),
            other => Err(SchemaError(format!("unknown type `{other}`"))),
        }
    }

    fn object(
        &mut self,
        schema: &serde_json::Map<String, Value>,
        depth: usize,
    ) -> Result<NodeId, SchemaError> {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            let additional = match schema.get("additionalProperties") {
                None | Some(Value::Bool(true)) => Some(ANY),
                Some(Value::Bool(false)) => None,
                Some(other) => Some(self.compile(other, depth + 1)?),
            };
            return Ok(self.push(Node::Object {
                properties: Vec::new(),
                required: 0,
                additional,
            }));
        };
        if properties.len() > MAX_PROPERTIES {
            return Err(SchemaError(format!(
                "an object may list at most {MAX_PROPERTIES} properties"
            )));
        }
        if let Some(missing) = required.iter().find(|r| !properties.contains_key(**r)) {
            return Err(SchemaError(format!(
                "`required` names `{missing}`, which is not among the properties"
            )));
        }
        let mut compiled = Vec::with_capacity(properties.len());
        let mut required_mask = 0u64;
        for (i, (name, property)) in properties.iter().enumerate() {
            let key = serde_json::to_string(name).unwrap_or_default().into_bytes();
            // The key without its quotes, escaped as JSON writes it.
            let key = key[1..key.len() - 1].to_vec();
            compiled.push((key, self.compile(property, depth + 1)?));
            if required.contains(&name.as_str()) {
                required_mask |= 1 << i;
            }
        }
        Ok(self.push(Node::Object {
            properties: compiled,
            required: required_mask,
            additional: None,
        }))
    }

    fn reference(&mut self, reference: &str, depth: usize) -> Result<NodeId, SchemaError> {
        if let Some(&id) = self.refs.get(reference) {
            return Ok(id);
        }
        let pointer = reference
            .strip_prefix('#')
            .ok_or_else(|| SchemaError(format!("only local `$ref`s are followed: {reference}")))?;
        let target = self
            .root
            .pointer(pointer)
            .ok_or_else(|| SchemaError(format!("`$ref` {reference} points at nothing")))?;
        // Reserve the id first so a recursive schema refers to itself.
        let id = self.push(Node::Placeholder);
        self.refs.insert(reference.to_owned(), id);
        let resolved = self.compile(target, depth + 1)?;
        self.nodes[id] = Node::Union(vec![resolved]);
        Ok(id)
    }
}

fn literal(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ObjectPhase {
    /// After `{`: a key or `}`.
    Open,
    /// After a key: `:`.
    Colon,
    /// After a value: `,` or `}`.
    AfterValue,
    /// After `,`: a key.
    Comma,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArrayPhase {
    Open,
    AfterValue,
    Comma,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumberPhase {
    Start,
    Minus,
    Zero,
    Integer,
    Dot,
    Fraction,
    Exponent,
    ExponentSign,
    ExponentDigits,
}

impl NumberPhase {
    fn can_end(self) -> bool {
        matches!(
            self,
            Self::Zero | Self::Integer | Self::Fraction | Self::ExponentDigits
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    Backslash,
    /// Hex digits of `\u` still expected.
    Unicode(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// A value of this node is next (whitespace first allowed).
    Value(NodeId),
    Object {
        node: NodeId,
        phase: ObjectPhase,
        /// Properties already written.
        seen: u64,
        /// The first property that may still come (they are written in schema order).
        next: u8,
        /// The property whose value comes after the colon.
        current: u8,
    },
    /// A key of an object with listed properties: the candidates still matching.
    Key {
        node: NodeId,
        candidates: u64,
        position: u8,
    },
    Array {
        node: NodeId,
        phase: ArrayPhase,
        count: u32,
    },
    String {
        min: u32,
        max: Option<u32>,
        length: u32,
        escape: Escape,
        /// UTF-8 continuation bytes still expected.
        continuation: u8,
        /// An object key: a `:` follows.
        key: bool,
    },
    Number {
        integer: bool,
        phase: NumberPhase,
        digits: u8,
    },
    /// Candidates `lo..hi` of a sorted literal list match the bytes so far.
    Literal {
        node: NodeId,
        lo: u32,
        hi: u32,
        position: u32,
    },
}

/// Where a generation is in the grammar; cheap to clone for trying a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonState {
    stack: Vec<Frame>,
    whitespace: u8,
}

fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\n' | b'\r' | b'\t')
}

/// What a frame did with a byte.
enum Step {
    Consumed,
    /// The frame took the byte and is finished: pop it.
    Finished,
    /// The frame is finished without the byte: pop it and offer the byte to its parent.
    PopAndRetry,
    Rejected,
}

impl JsonState {
    /// Whether the value could end here (a top-level number or literal may also go on).
    pub fn is_complete(&self, grammar: &Grammar) -> bool {
        match self.stack.as_slice() {
            [] => true,
            [Frame::Number { phase, .. }] => phase.can_end(),
            [
                Frame::Literal {
                    node,
                    lo,
                    hi,
                    position,
                },
            ] => match &grammar.nodes[*node] {
                Node::Literals(literals) => literals[*lo as usize..*hi as usize]
                    .iter()
                    .any(|l| l.len() == *position as usize),
                _ => false,
            },
            _ => false,
        }
    }

    /// Whether nothing more may be written.
    pub fn is_finished(&self) -> bool {
        self.stack.is_empty()
    }

    /// Feeds `bytes`; `false` (and an unspecified state) when they break the grammar.
    pub fn feed(&mut self, grammar: &Grammar, bytes: &[u8]) -> bool {
        bytes.iter().all(|&b| self.feed_byte(grammar, b))
    }

    fn feed_byte(&mut self, grammar: &Grammar, byte: u8) -> bool {
        loop {
            let Some(&top) = self.stack.last() else {
                return false;
            };
            let step = self.step(grammar, top, byte);
            match step {
                Step::Consumed | Step::Finished => {
                    if matches!(step, Step::Finished) {
                        self.stack.pop();
                    }
                    if is_whitespace(byte) {
                        self.whitespace += 1;
                        if self.whitespace > MAX_WHITESPACE_RUN {
                            return false;
                        }
                    } else {
                        self.whitespace = 0;
                    }
                    return self.stack.len() <= MAX_DEPTH;
                }
                Step::PopAndRetry => {
                    self.stack.pop();
                }
                Step::Rejected => return false,
            }
        }
    }

    /// The first byte of a value just opened as `frame` (now on top): a number's or literal's
    /// belongs to it; `{`, `[` and `"` only open theirs.
    fn first_byte(&mut self, grammar: &Grammar, frame: Frame, byte: u8) -> Step {
        match frame {
            Frame::Number { .. } | Frame::Literal { .. } => self.step(grammar, frame, byte),
            _ => Step::Consumed,
        }
    }

    fn set_top(&mut self, frame: Frame) {
        if let Some(top) = self.stack.last_mut() {
            *top = frame;
        }
    }

    fn step(&mut self, grammar: &Grammar, top: Frame, byte: u8) -> Step {
        match top {
            Frame::Value(node) => {
                if is_whitespace(byte) {
                    return Step::Consumed;
                }
                match start_frame(grammar, node, byte) {
                    Some(frame) => {
                        self.set_top(frame);
                        self.first_byte(grammar, frame, byte)
                    }
                    None => Step::Rejected,
                }
            }
            Frame::Object {
                node,
                phase,
                seen,
                next,
                current,
            } => {
                let Node::Object {
                    properties,
                    required,
                    additional,
                } = &grammar.nodes[node]
                else {
                    return Step::Rejected;
                };
                if is_whitespace(byte) {
                    return Step::Consumed;
                }
                let object = |phase| Frame::Object {
                    node,
                    phase,
                    seen,
                    next,
                    current,
                };
                let all_required = seen & required == *required;
                match (phase, byte) {
                    (ObjectPhase::Open | ObjectPhase::Comma, b'"') => {
                        if properties.is_empty() {
                            let Some(_) = additional else {
                                return Step::Rejected;
                            };
                            self.set_top(object(ObjectPhase::Colon));
                            self.stack.push(Frame::String {
                                min: 0,
                                max: None,
                                length: 0,
                                escape: Escape::None,
                                continuation: 0,
                                key: true,
                            });
                            return Step::Consumed;
                        }
                        let candidates = allowed_keys(properties.len(), *required, seen, next);
                        if candidates == 0 {
                            return Step::Rejected;
                        }
                        self.set_top(object(ObjectPhase::Colon));
                        self.stack.push(Frame::Key {
                            node,
                            candidates,
                            position: 0,
                        });
                        Step::Consumed
                    }
                    (ObjectPhase::Open | ObjectPhase::AfterValue, b'}') if all_required => {
                        Step::Finished
                    }
                    (ObjectPhase::Colon, b':') => {
                        let value = if properties.is_empty() {
                            additional.unwrap_or(ANY)
                        } else {
                            properties[current as usize].1
                        };
                        self.set_top(object(ObjectPhase::AfterValue));
                        self.stack.push(Frame::Value(value));
                        Step::Consumed
                    }
                    (ObjectPhase::AfterValue, b',') => {
                        let more = properties.is_empty()
                            || allowed_keys(properties.len(), *required, seen, next) != 0;
                        if !more {
                            return Step::Rejected;
                        }
                        self.set_top(object(ObjectPhase::Comma));
                        Step::Consumed
                    }
                    _ => Step::Rejected,
                }
            }
            Frame::Key {
                node,
                candidates,
                position,
            } => {
                let Node::Object { properties, .. } = &grammar.nodes[node] else {
                    return Step::Rejected;
                };
                let position = usize::from(position);
                if byte == b'"' {
                    let Some(chosen) = (0..properties.len())
                        .find(|&i| candidates & (1 << i) != 0 && properties[i].0.len() == position)
                    else {
                        return Step::Rejected;
                    };
                    self.stack.pop();
                    if let Some(Frame::Object {
                        seen,
                        next,
                        current,
                        ..
                    }) = self.stack.last_mut()
                    {
                        *seen |= 1 << chosen;
                        *next = chosen as u8 + 1;
                        *current = chosen as u8;
                    }
                    return Step::Consumed;
                }
                let mut narrowed = 0u64;
                for (i, (key, _)) in properties.iter().enumerate() {
                    if candidates & (1 << i) != 0 && key.get(position) == Some(&byte) {
                        narrowed |= 1 << i;
                    }
                }
                if narrowed == 0 {
                    return Step::Rejected;
                }
                self.set_top(Frame::Key {
                    node,
                    candidates: narrowed,
                    position: (position + 1).min(255) as u8,
                });
                Step::Consumed
            }
            Frame::Array { node, phase, count } => {
                let Node::Array { items, min, max } = grammar.nodes[node] else {
                    return Step::Rejected;
                };
                if is_whitespace(byte) {
                    return Step::Consumed;
                }
                match (phase, byte) {
                    (ArrayPhase::Open | ArrayPhase::AfterValue, b']') if count >= min => {
                        Step::Finished
                    }
                    (ArrayPhase::AfterValue, b',') if max.is_none_or(|max| count < max) => {
                        self.set_top(Frame::Array {
                            node,
                            phase: ArrayPhase::Comma,
                            count,
                        });
                        Step::Consumed
                    }
                    (ArrayPhase::Open | ArrayPhase::Comma, _)
                        if max.is_none_or(|max| count < max) =>
                    {
                        let Some(child) = start_frame(grammar, items, byte) else {
                            return Step::Rejected;
                        };
                        self.set_top(Frame::Array {
                            node,
                            phase: ArrayPhase::AfterValue,
                            count: count + 1,
                        });
                        self.stack.push(child);
                        self.first_byte(grammar, child, byte)
                    }
                    _ => Step::Rejected,
                }
            }
            Frame::String {
                min,
                max,
                length,
                escape,
                continuation,
                ..
            } => {
                // The updated frame: a copy of this one whose counters change below.
                let mut next = top;
                let Frame::String {
                    length: new_length,
                    escape: new_escape,
                    continuation: new_continuation,
                    ..
                } = &mut next
                else {
                    return Step::Rejected;
                };
                if continuation > 0 {
                    if byte & 0xC0 != 0x80 {
                        return Step::Rejected;
                    }
                    *new_continuation -= 1;
                    self.set_top(next);
                    return Step::Consumed;
                }
                match escape {
                    Escape::Backslash => {
                        *new_escape = match byte {
                            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Escape::None,
                            b'u' => Escape::Unicode(4),
                            _ => return Step::Rejected,
                        };
                        self.set_top(next);
                        return Step::Consumed;
                    }
                    Escape::Unicode(left) => {
                        if !byte.is_ascii_hexdigit() {
                            return Step::Rejected;
                        }
                        *new_escape = if left > 1 {
                            Escape::Unicode(left - 1)
                        } else {
                            Escape::None
                        };
                        self.set_top(next);
                        return Step::Consumed;
                    }
                    Escape::None => {}
                }
                if byte == b'"' {
                    if length < min {
                        return Step::Rejected;
                    }
                    return Step::Finished;
                }
                if byte < 0x20 {
                    return Step::Rejected;
                }
                // A new character: counted against maxLength at its first byte.
                if max.is_some_and(|max| length >= max) {
                    return Step::Rejected;
                }
                *new_length = length + 1;
                match byte {
                    b'\\' => *new_escape = Escape::Backslash,
                    0x00..=0x7F => {}
                    0xC2..=0xDF => *new_continuation = 1,
                    0xE0..=0xEF => *new_continuation = 2,
                    0xF0..=0xF4 => *new_continuation = 3,
                    _ => return Step::Rejected,
                }
                self.set_top(next);
                Step::Consumed
            }
            Frame::Number {
                integer,
                phase,
                digits,
            } => {
                use NumberPhase as P;
                let digit = byte.is_ascii_digit();
                let next = match (phase, byte) {
                    (P::Start, b'-') => Some(P::Minus),
                    (P::Start | P::Minus, b'0') => Some(P::Zero),
                    (P::Start | P::Minus, b'1'..=b'9') => Some(P::Integer),
                    (P::Integer, _) if digit => Some(P::Integer),
                    (P::Zero | P::Integer, b'.') if !integer => Some(P::Dot),
                    (P::Zero | P::Integer | P::Fraction, b'e' | b'E') if !integer => {
                        Some(P::Exponent)
                    }
                    (P::Dot | P::Fraction, _) if digit => Some(P::Fraction),
                    (P::Exponent, b'+' | b'-') => Some(P::ExponentSign),
                    (P::Exponent | P::ExponentSign | P::ExponentDigits, _) if digit => {
                        Some(P::ExponentDigits)
                    }
                    _ => None,
                };
                match next {
                    Some(phase) => {
                        let digits = digits + u8::from(digit);
                        if digits > MAX_DIGITS {
                            return Step::Rejected;
                        }
                        self.set_top(Frame::Number {
                            integer,
                            phase,
                            digits,
                        });
                        Step::Consumed
                    }
                    None if phase.can_end() => Step::PopAndRetry,
                    None => Step::Rejected,
                }
            }
            Frame::Literal {
                node,
                lo,
                hi,
                position,
            } => {
                let Node::Literals(literals) = &grammar.nodes[node] else {
                    return Step::Rejected;
                };
                let position_usize = position as usize;
                let range = &literals[lo as usize..hi as usize];
                let first = range
                    .iter()
                    .position(|l| l.get(position_usize) == Some(&byte));
                match first {
                    Some(first) => {
                        let last = range
                            .iter()
                            .rposition(|l| l.get(position_usize) == Some(&byte))
                            .unwrap_or(first);
                        let (lo, hi) = (lo + first as u32, lo + last as u32 + 1);
                        let only = &literals[lo as usize..hi as usize];
                        // A string literal ends itself: nothing can follow its closing quote.
                        if hi - lo == 1
                            && only[0].len() == position_usize + 1
                            && matches!(byte, b'"' | b'}' | b']')
                        {
                            return Step::Finished;
                        }
                        self.set_top(Frame::Literal {
                            node,
                            lo,
                            hi,
                            position: position + 1,
                        });
                        Step::Consumed
                    }
                    None if range.iter().any(|l| l.len() == position_usize) => Step::PopAndRetry,
                    None => Step::Rejected,
                }
            }
        }
    }
}

/// The properties that may be written next: those from `next` on, up to and including the first
/// required one not yet written (properties follow schema order, so none may be skipped past it).
fn allowed_keys(count: usize, required: u64, seen: u64, next: u8) -> u64 {
    let mut mask = 0u64;
    for i in usize::from(next)..count {
        if seen & (1 << i) != 0 {
            continue;
        }
        mask |= 1 << i;
        if required & (1 << i) != 0 {
            break;
        }
    }
    mask
}

/// The frame a value of `node` starts with when its first byte is `byte`.
fn start_frame(grammar: &Grammar, node: NodeId, byte: u8) -> Option<Frame> {
    match &grammar.nodes[node] {
        Node::Any => {
            let concrete = match byte {
                b'{' => ANY_OBJECT,
                b'[' => ANY_ARRAY,
                b'"' => ANY_STRING,
                b'-' | b'0'..=b'9' => ANY_NUMBER,
                b't' | b'f' => BOOLEAN,
                b'n' => NULL,
                _ => return None,
            };
            start_frame(grammar, concrete, byte)
        }
        Node::Object { .. } => (byte == b'{').then_some(Frame::Object {
            node,
            phase: ObjectPhase::Open,
            seen: 0,
            next: 0,
            current: 0,
        }),
        Node::Array { .. } => (byte == b'[').then_some(Frame::Array {
            node,
            phase: ArrayPhase::Open,
            count: 0,
        }),
        Node::String { min, max } => (byte == b'"').then_some(Frame::String {
            min: *min,
            max: *max,
            length: 0,
            escape: Escape::None,
            continuation: 0,
            key: false,
        }),
        Node::Number { integer } => {
            (byte == b'-' || byte.is_ascii_digit()).then_some(Frame::Number {
                integer: *integer,
                phase: NumberPhase::Start,
                digits: 0,
            })
        }
        Node::Literals(literals) => {
            literals
                .iter()
                .any(|l| l.first() == Some(&byte))
                .then_some(Frame::Literal {
                    node,
                    lo: 0,
                    hi: literals.len() as u32,
                    position: 0,
                })
        }
        Node::Union(alternatives) => alternatives
            .iter()
            .find_map(|&alternative| start_frame(grammar, alternative, byte)),
        Node::Placeholder => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn accepts(grammar: &Grammar, text: &str) -> bool {
        let mut state = grammar.start();
        state.feed(grammar, text.as_bytes()) && state.is_complete(grammar)
    }

    #[test]
    fn any_object_takes_every_json_object_and_nothing_else() {
        let grammar = Grammar::any_object();
        for text in [
            r#"{}"#,
            r#"{"a": [1, -2.5e3, 0, "x\u00e9\n", true, null, {"b": {}}], "c": "é☃"}"#,
            "{\n  \"k\" : 10 }",
        ] {
            assert!(accepts(&grammar, text), "{text}");
            serde_json::from_str::<Value>(text).unwrap();
        }
        for text in [
            "[1]",
            r#"{"a" 1}"#,
            r#"{"a": 01}"#,
            r#"{"a": tru}"#,
            r#"{"a":1,}"#,
            "{",
            r#"{"a": "x"#,
            r#"{"a": "\q"}"#,
            "{\"a\": \"\u{1}\"}",
        ] {
            assert!(!accepts(&grammar, text), "{text}");
        }
        let mut state = grammar.start();
        assert!(state.feed(&grammar, b"{}"));
        assert!(state.is_finished());
        assert!(!state.feed(&grammar, b" "), "nothing follows the value");
    }

    #[test]
    fn a_schema_fixes_keys_types_and_bounds() {
        let schema = json!({"type": "object", "properties": {
            "name": {"type": "string", "maxLength": 5},
            "age": {"type": "integer"},
            "nick": {"type": ["string", "null"]},
            "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2}},
            "required": ["name", "age"]});
        let grammar = Grammar::from_schema(&schema).unwrap();
        for good in [
            r#"{"name": "Bob", "age": 42}"#,
            r#"{"name":"Bob","age":-7,"nick":null,"tags":["a","b"]}"#,
            r#"{"name":"Bob","age":0,"tags":[]}"#,
        ] {
            assert!(accepts(&grammar, good), "{good}");
        }
        for bad in [
            r#"{"age": 1}"#,
            r#"{"name": "Bob"}"#,
            r#"{"name": "Bob", "age": 4.5}"#,
            r#"{"name": "Robert", "age": 4}"#,
            r#"{"name": "Bob", "age": 4, "tags": ["a", "b", "a"]}"#,
            r#"{"name": "Bob", "age": 4, "tags": ["c"]}"#,
            r#"{"name": "Bob", "age": 4, "extra": 1}"#,
            r#"{"name": "Bob", "age": 4, "nick": 3}"#,
        ] {
            assert!(!accepts(&grammar, bad), "{bad}");
        }
    }

    #[test]
    fn refs_recurse_and_literals_end_where_they_should() {
        let schema = json!({"$defs": {"node": {"type": "object", "properties": {
            "value": {"enum": [1, 12, "x"]},
            "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
            "required": ["value"]}}, "$ref": "#/$defs/node"});
        let grammar = Grammar::from_schema(&schema).unwrap();
        assert!(accepts(
            &grammar,
            r#"{"value": 12, "children": [{"value": 1}, {"value": "x", "children": []}]}"#
        ));
        assert!(!accepts(&grammar, r#"{"value": 2}"#));
        assert!(!accepts(&grammar, r#"{"value": 123}"#));
        let top = Grammar::from_schema(&json!({"type": "integer"})).unwrap();
        assert!(accepts(&top, "123"));
        let mut state = top.start();
        assert!(state.feed(&top, b"-"));
        assert!(!state.is_complete(&top));
    }

    #[test]
    fn bad_schemas_are_refused_with_a_reason() {
        for (schema, reason) in [
            (json!({"type": "tuple"}), "unknown type"),
            (json!({"$ref": "https://example.com/s.json"}), "local"),
            (json!({"$ref": "#/$defs/missing"}), "points at nothing"),
            (
                json!({"type": "object", "properties": {"a": {}}, "required": ["b"]}),
                "`b`",
            ),
            (
                json!({"type": "string", "minLength": 3, "maxLength": 2}),
                "maxLength",
            ),
        ] {
            let error = Grammar::from_schema(&schema).unwrap_err();
            assert!(error.0.contains(reason), "{schema}: {error}");
        }
    }

    #[test]
    fn whitespace_runs_are_bounded() {
        let grammar = Grammar::any_object();
        let mut state = grammar.start();
        assert!(!state.feed(&grammar, format!("{{{}", " ".repeat(100)).as_bytes()));
    }
}
