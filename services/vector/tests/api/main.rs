//! The vector service through its router, on Qdrant's embedded engine in a scratch directory,
//! with the real all-MiniLM-L6-v2 for texts.
#![allow(
    clippy::unwrap_used,
    reason = "helpers in test binaries panic to report failure"
)]

mod collections;
mod documents;
mod points;
mod queries;

use std::path::PathBuf;
use std::time::Duration;

use flowforge_service_kit::test_util::TestApp;
use flowforge_service_kit::{Kit, Limits};
use flowforge_vector::VectorConfig;

/// A scratch data directory, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A new empty directory, unique to this process and call.
    pub fn create() -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "flowforge-vector-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        // A directory left by an earlier run with the same process id is stale.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The service on `dir`, with the embedding model loaded.
pub async fn app(dir: &Scratch) -> TestApp {
    let config = VectorConfig {
        data_dir: dir.0.clone(),
        embedding_model_dir: flowforge_embeddings::default_model_dir(),
    };
    let kit = Kit::new("vector", "0.1.0-test", Limits::default());
    let app = TestApp::new(flowforge_vector::app_with(&kit, config).unwrap());
    for _ in 0..400 {
        if app.get("/health").await.status == 200 {
            return app;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the embedding model did not load");
}
