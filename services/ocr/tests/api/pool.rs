//! More requests than engines: they wait; past the wait limit, 503.

use std::time::Duration;

use flowforge_ocr::domain::engine::EnginePool;
use flowforge_service_kit::test_util::TestApp;
use flowforge_service_kit::{Kit, Limits};

use crate::{LINES, app, config, png, scan, text_pdf};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn more_requests_than_engines_all_succeed() {
    let app = std::sync::Arc::new(app().await);
    let image = png(&scan(&text_pdf(&[&LINES]), 1, 150.0));
    let requests: Vec<_> = (0..5)
        .map(|_| {
            let (app, image) = (app.clone(), image.clone());
            tokio::spawn(async move {
                app.post_raw("/api/v1/ocr/recognize", "image/png", image)
                    .await
            })
        })
        .collect();
    for request in requests {
        let response = request.await.unwrap().ok();
        let flowing = response["text"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(flowing.contains(LINES[1]), "{flowing}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_pool_answers_503_after_the_wait() {
    let settings = config(1);
    let pool = EnginePool::new(
        settings.data_dir.clone(),
        "eng",
        1,
        Duration::from_millis(200),
    );
    let warm = pool.clone();
    tokio::task::spawn_blocking(move || warm.warm())
        .await
        .unwrap()
        .unwrap();
    let kit = Kit::new("ocr", "0.1.0-test", Limits::default());
    let languages = flowforge_ocr::domain::installed_languages(&settings.data_dir);
    let state =
        flowforge_ocr::AppState::new(kit.metrics(), pool.clone(), languages, settings.limits);
    let app = TestApp::new(kit.app(flowforge_ocr::router(state)));
    let image = png(&scan(&text_pdf(&[&["Busy"]]), 1, 100.0));

    let held = pool.borrow().await.unwrap();
    let busy = app
        .post_raw("/api/v1/ocr/recognize", "image/png", image.clone())
        .await;
    busy.error(503, "ENGINES_BUSY");
    drop(held);
    let free = app
        .post_raw("/api/v1/ocr/recognize", "image/png", image)
        .await
        .ok();
    assert!(free["text"].as_str().unwrap().contains("Busy"));
}
