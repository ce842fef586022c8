//! `lookalike serve --tls-cert --tls-key`: HTTPS of its own, with a certificate from a test CA
//! (Debian's openssl, as `pg_tls.rs` makes them). A client that trusts the CA searches over it;
//! one that does not, or one that speaks plain HTTP, gets nothing; a key that is not the
//! certificate's stops the server at start, naming the file.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use lookalike_e2e::server::{catalogue, png, TestServer};
use lookalike_e2e::{lookalike, text};

/// A ureq agent that trusts the certificates of `ca` (PEM) alone.
fn agent(ca: &Path) -> ureq::Agent {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .tls_config(Arc::new(config))
        .build()
}

#[test]
fn https_serve_with_its_own_certificate() {
    let dir = tempfile::tempdir().unwrap();
    crate::pg_tls::certificates(dir.path(), "ca");
    crate::pg_tls::certificates(dir.path(), "other");
    let data = catalogue(dir.path());
    let (cert, key) = (dir.path().join("server.crt"), dir.path().join("server.key"));
    let server = TestServer::start(
        &data,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--instance",
            "tls-1",
        ],
        &[],
    );
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );

    let trusting = agent(&dir.path().join("ca.crt"));
    let health = trusting
        .get(&format!("{}/healthz", server.url))
        .call()
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.header("x-lookalike-instance"), Some("tls-1"));
    // A search (a multipart upload) over HTTPS.
    let boundary = "b0undary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"q.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&png(3));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let found = trusting
        .post(&format!("{}/api/collections/shop/search", server.url))
        .set(
            "Content-Type",
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .send_bytes(&body)
        .unwrap();
    let hits: serde_json::Value = found.into_json().unwrap();
    assert_eq!(hits["hits"].as_array().map(Vec::len), Some(10), "{hits}");

    // Another CA's client refuses the certificate.
    let err = agent(&dir.path().join("other.crt"))
        .get(&format!("{}/healthz", server.url))
        .call()
        .unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
    // Plain HTTP to the HTTPS port gets no HTTP answer.
    let plain = server.url.replace("https://", "http://");
    assert!(ureq::get(&format!("{plain}/healthz")).call().is_err());

    // The other CA's key is not the server certificate's: the server does not start.
    let run = lookalike(&[
        "serve",
        "--data-dir",
        data.to_str().unwrap(),
        "--bind",
        "127.0.0.1:0",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        dir.path().join("other.key").to_str().unwrap(),
    ]);
    let (_, stderr) = text(&run);
    assert!(!run.status.success());
    assert!(
        stderr.contains("other.key") && stderr.contains("does not fit the certificate"),
        "{stderr}"
    );
    // --tls-cert alone is refused by the command line.
    let run = lookalike(&["serve", "--tls-cert", cert.to_str().unwrap()]);
    assert!(!run.status.success());
    assert!(text(&run).1.contains("--tls-key"), "{}", text(&run).1);
}
