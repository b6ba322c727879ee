//! Encryption that real readers (qpdf) open with the password, and decryption.

use std::process::Command;

use flowforge_service_kit::test_util::multipart_body;

use crate::{app, assert_valid, info, numbered_pages, page_texts};

/// qpdf's verdict on whether the file needs a password: exit 0 = it does.
fn requires_password(bytes: &[u8]) -> bool {
    let path = std::env::temp_dir().join(format!("flowforge-pdf-enc-{}.pdf", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    let status = Command::new("qpdf")
        .arg("--requires-password")
        .arg(&path)
        .status()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    status.code() == Some(0)
}

#[tokio::test]
async fn encrypt_decrypt_round_trip_in_both_algorithms() {
    let app = app();
    let pdf = numbered_pages(&app, 2).await;
    for algorithm in ["aes-256", "aes-128"] {
        let (content_type, body) = multipart_body(&[
            ("file", Some("plain.pdf"), &pdf),
            ("userPassword", None, b"open sesame"),
            ("ownerPassword", None, b"owner-secret"),
            ("permissions", None, b"print,copy"),
            ("algorithm", None, algorithm.as_bytes()),
        ]);
        let encrypted = app
            .post_raw("/api/v1/pdf/encrypt", &content_type, body)
            .await;
        assert_eq!(encrypted.status, 200, "{}", encrypted.text());
        assert_eq!(
            encrypted.headers["content-disposition"],
            "attachment; filename=\"plain-encrypt.pdf\""
        );
        let encrypted = encrypted.body.to_vec();
        assert!(requires_password(&encrypted), "{algorithm}");
        assert_valid(&encrypted, Some("open sesame"));
        assert_valid(&encrypted, Some("owner-secret"));

        // Without the password: a clear code, and info still says what the file is.
        let locked = app
            .post_raw("/api/v1/pdf/text", "application/pdf", encrypted.clone())
            .await;
        locked.error(422, "PASSWORD_REQUIRED");
        let described = info(&app, &encrypted).await;
        assert_eq!(described["encrypted"], true);
        assert_eq!(described["passwordRequired"], true);
        let wrong = app
            .post_raw(
                "/api/v1/pdf/text?password=nope",
                "application/pdf",
                encrypted.clone(),
            )
            .await;
        wrong.error(422, "DECRYPTION_FAILED");

        let (content_type, body) = multipart_body(&[
            ("file", None, &encrypted),
            ("password", None, b"open sesame"),
        ]);
        let opened = app
            .post_raw("/api/v1/pdf/info", &content_type, body)
            .await
            .ok();
        assert_eq!(opened["encrypted"], true);
        assert_eq!(opened["permissions"], serde_json::json!(["print", "copy"]));

        let (content_type, body) = multipart_body(&[
            ("file", None, &encrypted),
            ("password", None, b"owner-secret"),
        ]);
        let decrypted = app
            .post_raw("/api/v1/pdf/decrypt", &content_type, body)
            .await;
        assert_eq!(decrypted.status, 200, "{}", decrypted.text());
        assert!(!requires_password(&decrypted.body));
        assert_valid(&decrypted.body, None);
        assert_eq!(
            page_texts(&app, &decrypted.body).await,
            page_texts(&app, &pdf).await
        );
    }
}

#[tokio::test]
async fn encryption_options_are_checked() {
    let app = app();
    let pdf = numbered_pages(&app, 1).await;
    let unknown = app
        .post_raw(
            "/api/v1/pdf/encrypt?userPassword=a&permissions=print,fly",
            "application/pdf",
            pdf.clone(),
        )
        .await;
    assert_eq!(unknown.error_field(), "permissions");
    let no_password = app
        .post_raw("/api/v1/pdf/encrypt", "application/pdf", pdf.clone())
        .await;
    no_password.error(422, "VALIDATION_ERROR");
    let algorithm = app
        .post_raw(
            "/api/v1/pdf/encrypt?userPassword=a&algorithm=rc4",
            "application/pdf",
            pdf,
        )
        .await;
    algorithm.error(422, "VALIDATION_ERROR");
}
