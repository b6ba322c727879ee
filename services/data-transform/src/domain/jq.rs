//! jq filters (jaq: the jq language in Rust, with its standard library).
//!
//! A jq program can loop forever (`repeat(.)`) or build a huge value (`[range(1e10)]`), and an
//! in-process interpreter cannot be stopped. So filters run in a worker process — this same
//! executable started with [`WORKER_ARG`] — under a CPU-time and memory limit (`ulimit`) and a
//! wall-clock deadline, and is killed past them. A runaway filter costs one process, never the
//! service.
//!
//! The protocol keeps big inputs cheap: the service writes one header line (the filter) and then
//! the input's JSON text as it is — a raw JSON body is never parsed by the service at all — and
//! the worker answers with one header line (the outcome) and then one result per line. Inputs
//! over [`FILE_HANDOFF_BYTES`] go through a private temporary file instead of the pipe: on
//! this kind of VM a pipe moves 100 MB in 0.4–1.1 s, a file in under 0.2 s.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{DataError, Result};

/// The hidden argument that turns the executable into a jq worker.
pub const WORKER_ARG: &str = "--jq-worker";

/// Limits on one filter run.
#[derive(Debug, Clone, Copy)]
pub struct JqLimits {
    pub timeout: Duration,
    /// Address space of the worker, in KiB.
    pub memory_kib: u64,
    /// Most results returned.
    pub max_results: usize,
}

impl Default for JqLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            memory_kib: 2 * 1024 * 1024,
            max_results: 100_000,
        }
    }
}

/// Inputs larger than this reach the worker through a file.
pub const FILE_HANDOFF_BYTES: usize = 4 * 1024 * 1024;

/// The first line the worker reads; the input's JSON text follows it, or is in `input_file`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Job {
    filter: String,
    max_results: usize,
    #[serde(default)]
    input_file: Option<std::path::PathBuf>,
}

/// A temporary file, readable by this user only, removed when dropped.
struct HandoffFile(std::path::PathBuf);

impl HandoffFile {
    async fn write(bytes: bytes::Bytes) -> Result<Self> {
        let path = std::env::temp_dir().join(format!("flowforge-jq-{}.json", uuid::Uuid::new_v4()));
        let file = Self(path.clone());
        tokio::task::spawn_blocking(move || {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?
                .write_all(&bytes)
        })
        .await
        .map_err(|e| DataError::Internal(e.to_string()))?
        .map_err(|e| DataError::Internal(format!("cannot write the jq input: {e}")))?;
        Ok(file)
    }
}

impl Drop for HandoffFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The first line the worker writes; for `Results(n)`, n lines of JSON follow.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Header {
    Results(usize),
    Compile(String),
    Malformed(String),
    Runtime(String),
    TooMany(usize),
}

/// What a filter gave: results as compact JSON text, or why not.
#[derive(Debug)]
enum Outcome {
    Results(Vec<String>),
    Failed(Header),
}

/// Compiles and runs `filter` on the JSON text `input` in this process (the worker's work).
fn run_here(filter: &str, input: &[u8], max_results: usize) -> Outcome {
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let program = File {
        code: filter,
        path: (),
    };
    let modules = match loader.load(&arena, program) {
        Ok(modules) => modules,
        Err(errors) => {
            return Outcome::Failed(Header::Compile(describe_load_errors(filter, &errors)));
        }
    };
    let compiled = match Compiler::default().with_funs(funs).compile(modules) {
        Ok(compiled) => compiled,
        Err(errors) => {
            let names: Vec<String> = errors
                .iter()
                .flat_map(|(_, errs)| {
                    errs.iter()
                        .map(|(name, undefined)| format!("{undefined:?} `{name}`"))
                })
                .collect();
            return Outcome::Failed(Header::Compile(format!("undefined: {}", names.join(", "))));
        }
    };
    let value = match jaq_json::read::parse_single(input) {
        Ok(value) => value,
        Err(e) => return Outcome::Failed(Header::Malformed(format!("JSON at {e}"))),
    };
    let ctx = Ctx::<data::JustLut<Val>>::new(&compiled.lut, Vars::new([]));
    let mut results = Vec::new();
    for output in compiled.id.run((ctx, value)).map(unwrap_valr) {
        match output {
            Ok(val) => {
                if results.len() == max_results {
                    return Outcome::Failed(Header::TooMany(max_results));
                }
                results.push(val.to_string());
            }
            Err(error) => return Outcome::Failed(Header::Runtime(error.to_string())),
        }
    }
    Outcome::Results(results)
}

fn describe_load_errors<E: std::fmt::Debug>(
    filter: &str,
    errors: &[(File<&str, ()>, E)],
) -> String {
    let detail: Vec<String> = errors.iter().map(|(_, e)| format!("{e:?}")).collect();
    let detail = detail.join("; ");
    // jaq reports the unparsed rest of the program; turn it into a position.
    match detail.find('"').and_then(|start| {
        let rest = &detail[start + 1..];
        rest.find('"').map(|end| &rest[..end])
    }) {
        Some(rest) if !rest.is_empty() && filter.contains(rest) => {
            let offset = filter.rfind(rest).unwrap_or(0);
            format!(
                "cannot parse the filter at character {}: {detail}",
                filter[..offset].chars().count() + 1
            )
        }
        _ => format!("cannot parse the filter: {detail}"),
    }
}

/// The worker: reads one job from stdin, writes the outcome to stdout.
pub fn worker_main() -> std::process::ExitCode {
    let mut input = Vec::new();
    if std::io::stdin().read_to_end(&mut input).is_err() {
        return std::process::ExitCode::FAILURE;
    }
    let Some(newline) = input.iter().position(|b| *b == b'\n') else {
        return std::process::ExitCode::FAILURE;
    };
    let Ok(job) = serde_json::from_slice::<Job>(&input[..newline]) else {
        return std::process::ExitCode::FAILURE;
    };
    if let Some(path) = &job.input_file {
        match std::fs::read(path) {
            Ok(bytes) => input = bytes,
            Err(_) => return std::process::ExitCode::FAILURE,
        }
    } else {
        input.drain(..=newline);
    }
    let outcome = run_here(&job.filter, &input, job.max_results);
    drop(input);
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let written = match outcome {
        Outcome::Results(results) => {
            serde_json::to_writer(&mut stdout, &Header::Results(results.len()))
                .map_err(std::io::Error::other)
                .and_then(|()| {
                    results.iter().try_for_each(|result| {
                        stdout.write_all(b"\n")?;
                        stdout.write_all(result.as_bytes())
                    })
                })
        }
        Outcome::Failed(header) => {
            serde_json::to_writer(&mut stdout, &header).map_err(std::io::Error::other)
        }
    };
    if written.and_then(|()| stdout.flush()).is_err() {
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}

/// Runs `filter` on `input` (JSON text; a raw body goes as it came) in a worker process started
/// from `worker` under `limits`.
pub async fn run(
    worker: &Path,
    filter: &str,
    input: bytes::Bytes,
    limits: JqLimits,
) -> Result<Vec<Value>> {
    let handoff = if input.len() > FILE_HANDOFF_BYTES {
        Some(HandoffFile::write(input.clone()).await?)
    } else {
        None
    };
    let mut header = serde_json::to_vec(&Job {
        filter: filter.to_owned(),
        max_results: limits.max_results,
        input_file: handoff.as_ref().map(|f| f.0.clone()),
    })
    .map_err(|e| DataError::Internal(e.to_string()))?;
    header.push(b'\n');
    let piped = if handoff.is_some() {
        bytes::Bytes::new()
    } else {
        input
    };
    let cpu_seconds = limits.timeout.as_secs().max(1);
    // `ulimit` in a shell sets the limits without unsafe code; `exec` keeps one process.
    let mut child = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            // dash's `ulimit` takes one limit at a time.
            "ulimit -t {cpu_seconds} && ulimit -v {} && exec \"$0\" {WORKER_ARG}",
            limits.memory_kib
        ))
        .arg(worker)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| DataError::Internal(format!("cannot start the jq worker: {e}")))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| DataError::Internal("no worker stdin".into()))?;
    let work = async {
        use tokio::io::AsyncWriteExt;
        // A write error means the worker died early; its exit status tells why.
        if stdin.write_all(&header).await.is_ok() {
            let _ = stdin.write_all(&piped).await;
        }
        drop(stdin);
        child.wait_with_output().await
    };
    let output = match tokio::time::timeout(limits.timeout, work).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Err(DataError::Internal(format!("jq worker failed: {e}"))),
        Err(_) => {
            return Err(DataError::Timeout(format!(
                "the filter ran longer than {} s",
                limits.timeout.as_secs()
            )));
        }
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: String = stderr
            .chars()
            .rev()
            .take(400)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        tracing::warn!(status = %output.status, stderr = %tail, "jq worker stopped");
        return Err(DataError::TooComplex(
            "the filter ran out of its CPU time or memory".into(),
        ));
    }
    let mut lines = output.stdout.split(|b| *b == b'\n');
    let header = lines
        .next()
        .and_then(|line| serde_json::from_slice::<Header>(line).ok())
        .ok_or_else(|| DataError::Internal("unreadable worker answer".into()))?;
    match header {
        Header::Results(n) => {
            let results: Vec<Value> = lines.take(n).map(result_value).collect();
            if results.len() == n {
                Ok(results)
            } else {
                Err(DataError::Internal(
                    "the worker's answer was cut short".into(),
                ))
            }
        }
        failed => Err(failure(failed)),
    }
}

/// One result line as JSON; NaN and Infinity have no JSON form, and jq prints them as null.
fn result_value(line: &[u8]) -> Value {
    serde_json::from_slice(line).unwrap_or(Value::Null)
}

fn failure(header: Header) -> DataError {
    match header {
        Header::Compile(message) => DataError::Invalid {
            field: "filter".into(),
            message,
        },
        Header::Malformed(message) => DataError::Malformed(message),
        Header::Runtime(message) => DataError::QueryFailed(message),
        Header::TooMany(n) => {
            DataError::TooComplex(format!("the filter produced more than {n} results"))
        }
        Header::Results(_) => DataError::Internal("not a failure".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn results(filter: &str, input: Value) -> Vec<Value> {
        match run_here(filter, input.to_string().as_bytes(), 1_000) {
            Outcome::Results(r) => r.iter().map(|line| result_value(line.as_bytes())).collect(),
            Outcome::Failed(header) => panic!("{header:?}"),
        }
    }

    fn failed(filter: &str, input: &str, max_results: usize) -> Header {
        match run_here(filter, input.as_bytes(), max_results) {
            Outcome::Failed(header) => header,
            Outcome::Results(r) => panic!("{r:?}"),
        }
    }

    #[test]
    fn runs_jq_with_its_standard_library() {
        let orders = json!([{"id": 1, "total": 30}, {"id": 2, "total": 5}, {"id": 3, "total": 12}]);
        assert_eq!(
            results("map(select(.total > 10)) | map(.id)", orders.clone()),
            [json!([1, 3])]
        );
        assert_eq!(
            results("sort_by(.total) | .[0].id", orders.clone()),
            [json!(2)]
        );
        assert_eq!(results("[.[].total] | add", orders.clone()), [json!(47)]);
        assert_eq!(
            results("group_by(.total > 10) | map(length)", orders),
            [json!([1, 2])]
        );
        assert_eq!(results(".[]", json!([1, 2])), [json!(1), json!(2)]);
        assert_eq!(
            results("{a: 1} + {b: 2} | keys", json!(null)),
            [json!(["a", "b"])]
        );
    }

    #[test]
    fn errors_are_told_apart() {
        assert!(matches!(failed(".a |", "{}", 10), Header::Compile(_)));
        assert!(matches!(
            failed("nosuchfunction", "{}", 10),
            Header::Compile(_)
        ));
        assert!(matches!(
            failed(".a + 1", r#"{"a": "x"}"#, 10),
            Header::Runtime(_)
        ));
        assert!(matches!(
            failed("range(100)", "null", 10),
            Header::TooMany(10)
        ));
        match failed(".", "[1, 2,", 10) {
            Header::Malformed(message) => {
                assert!(message.starts_with("JSON at byte offset"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
}
