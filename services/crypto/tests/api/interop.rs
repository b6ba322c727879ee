//! Keys and signatures interoperate with OpenSSL, the tool users check us against.

use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::{app, call, key_pair};

/// Runs `openssl args…` with `stdin`, returning stdout; panics with stderr on failure.
fn openssl(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed (scripts/install-deps.sh)");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn temp_file(name: &str, contents: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("flowforge-crypto-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[tokio::test]
async fn generated_keys_are_read_by_openssl() {
    let app = app();
    for key_type in ["ed25519", "ecdsa-p256", "ecdsa-p384", "rsa"] {
        let (private_pem, public_pem) = key_pair(&app, json!({"type": key_type})).await;
        let text = openssl(&["pkey", "-noout", "-text"], private_pem.as_bytes());
        assert!(!text.is_empty(), "{key_type}");
        let derived = openssl(&["pkey", "-pubout"], private_pem.as_bytes());
        assert_eq!(
            String::from_utf8(derived).unwrap().trim(),
            public_pem.trim(),
            "{key_type}: public key differs"
        );
    }
}

#[tokio::test]
async fn openssl_signatures_verify_and_ours_verify_in_openssl() {
    let app = app();
    let message = b"interop message";
    let message_file = temp_file("message.txt", message);
    let message_path = message_file.to_str().unwrap();
    for (algorithm, key_type, sign_args) in [
        ("ecdsa-p256-sha256", "ecdsa-p256", vec!["-sha256"]),
        (
            "rsa-pss-sha256",
            "rsa",
            vec![
                "-sha256",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:32",
            ],
        ),
        ("rsa-pkcs1-sha256", "rsa", vec!["-sha256"]),
    ] {
        let (private_pem, public_pem) = key_pair(&app, json!({"type": key_type})).await;
        let key_file = temp_file(&format!("{algorithm}.pem"), private_pem.as_bytes());
        let public_file = temp_file(&format!("{algorithm}.pub.pem"), public_pem.as_bytes());

        let mut args = vec!["dgst"];
        args.extend(&sign_args);
        args.extend(["-sign", key_file.to_str().unwrap(), message_path]);
        let theirs = STANDARD.encode(openssl(&args, b""));
        let verdict = call(&app, "verify", json!({"algorithm": algorithm, "publicKey": public_pem, "input": "interop message", "signature": theirs})).await;
        assert_eq!(verdict["valid"], true, "{algorithm}: OpenSSL's signature");

        let ours = call(
            &app,
            "sign",
            json!({"algorithm": algorithm, "privateKey": private_pem, "input": "interop message"}),
        )
        .await;
        let signature_file = temp_file(
            &format!("{algorithm}.sig"),
            &STANDARD
                .decode(ours["signature"].as_str().unwrap())
                .unwrap(),
        );
        let mut args = vec!["dgst"];
        args.extend(&sign_args);
        args.extend([
            "-verify",
            public_file.to_str().unwrap(),
            "-signature",
            signature_file.to_str().unwrap(),
            message_path,
        ]);
        assert_eq!(
            String::from_utf8(openssl(&args, b"")).unwrap().trim(),
            "Verified OK",
            "{algorithm}: our signature"
        );
    }
}

#[tokio::test]
async fn ed25519_and_rsa_oaep_interoperate() {
    let app = app();
    let (private_pem, public_pem) = key_pair(&app, json!({"type": "ed25519"})).await;
    let key_file = temp_file("ed.pem", private_pem.as_bytes());
    let message_file = temp_file("ed-message.txt", b"pure eddsa");
    let theirs = openssl(
        &[
            "pkeyutl",
            "-sign",
            "-rawin",
            "-inkey",
            key_file.to_str().unwrap(),
            "-in",
            message_file.to_str().unwrap(),
        ],
        b"",
    );
    let verdict = call(&app, "verify", json!({"algorithm": "ed25519", "publicKey": public_pem, "input": "pure eddsa", "signature": STANDARD.encode(&theirs)})).await;
    assert_eq!(verdict["valid"], true);

    let (rsa_private, rsa_public) = key_pair(&app, json!({"type": "rsa"})).await;
    let sealed = call(&app, "encrypt", json!({"algorithm": "rsa-oaep-sha256", "plaintext": "for openssl", "publicKey": rsa_public})).await;
    let rsa_key_file = temp_file("rsa-oaep.pem", rsa_private.as_bytes());
    let ciphertext = STANDARD.decode(sealed["token"].as_str().unwrap()).unwrap();
    let plaintext = openssl(
        &[
            "pkeyutl",
            "-decrypt",
            "-inkey",
            rsa_key_file.to_str().unwrap(),
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
            "-pkeyopt",
            "rsa_mgf1_md:sha256",
        ],
        &ciphertext,
    );
    assert_eq!(plaintext, b"for openssl");
}
