//! Where a page's time goes: each preprocessing step alone, and Tesseract on the page each set
//! of steps produces, averaged over a folder of PNG pages (e.g. bench/ocr/make_set.py's).
//! Usage: cargo run --release -p flowforge-ocr --example page_steps -- DIR [rounds] [one set's name]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use flowforge_ocr::domain::default_data_dir;
use flowforge_ocr::domain::engine::{Engine, Settings};
use flowforge_ocr::domain::preprocess::{self, Preprocess};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "/tmp/ocrset".into()));
    let rounds: u32 = args.next().map_or(Ok(3), |r| r.parse())?;
    let only = args.next();
    let mut pages = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "png") {
            pages.push(image::open(&path)?);
        }
    }
    anyhow::ensure!(!pages.is_empty(), "no PNG pages in {}", dir.display());
    let data_dir = default_data_dir();
    let mut engine = Engine::load(&data_dir, "eng")?;
    let settings = Settings {
        languages: "eng".into(),
        ..Settings::default()
    };
    let off = Preprocess::default();
    let sets = [
        ("none", off),
        (
            "denoise",
            Preprocess {
                denoise: true,
                ..off
            },
        ),
        (
            "upscale",
            Preprocess {
                upscale: true,
                ..off
            },
        ),
        (
            "deskew",
            Preprocess {
                deskew: true,
                ..off
            },
        ),
        (
            "all three",
            Preprocess {
                denoise: true,
                upscale: true,
                deskew: true,
                ..off
            },
        ),
    ];
    println!(
        "{} pages, {rounds} rounds; ms per page: preprocessing, then Tesseract",
        pages.len()
    );
    for (name, steps) in sets {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let (mut prepare, mut recognize) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..rounds {
            for page in &pages {
                let started = Instant::now();
                let gray = preprocess::prepare(page, &steps, 10_000);
                prepare += started.elapsed();
                let started = Instant::now();
                engine.recognize(&data_dir, &gray, &settings, 0)?;
                recognize += started.elapsed();
            }
        }
        let per_page =
            |total: Duration| total.as_secs_f64() * 1e3 / f64::from(rounds) / pages.len() as f64;
        println!(
            "{name:>10}: {:6.2} + {:6.2}",
            per_page(prepare),
            per_page(recognize)
        );
    }
    Ok(())
}
