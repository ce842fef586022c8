//! TLS and passwords to PostgreSQL, on loopback: a server with a certificate from a test CA
//! (made with Debian's openssl) that refuses plain connections; `sslmode=verify-full` refuses a
//! wrong host name; a password comes from a passfile and never appears in a message.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use lookalike_e2e::postgres::PgServer;
use lookalike_index::{Metric, PgOptions, PgVectorStore, VectorStore};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (Debian's openssl package)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`NAME.crt`) and, signed by it, a certificate for 127.0.0.1 only (`server.crt`, its key
/// `server.key`); also used by `https_serve.rs`.
pub(crate) fn certificates(dir: &Path, ca: &str) {
    let key = format!("{ca}.key");
    let crt = format!("{ca}.crt");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &crt,
            "-days",
            "2",
            "-subj",
            "/CN=lookalike test CA",
        ],
    );
    if ca != "ca" {
        return;
    }
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

async fn connect(url: &str) -> Result<PgVectorStore, lookalike_index::StoreError> {
    let options = PgOptions {
        connect_timeout: Duration::from_secs(3),
        ..PgOptions::default()
    };
    PgVectorStore::connect(url, "tls", 4, Metric::L2, options).await
}

#[test]
fn tls_is_required_and_verify_full_checks_the_host_name() {
    let server = PgServer::init();
    let dir = server.dir().to_path_buf();
    certificates(&dir, "ca");
    certificates(&dir, "other");
    // Plain connections over TCP are refused: whatever connects, connects with TLS.
    std::fs::write(
        dir.join("hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
    )
    .unwrap();
    for f in ["server.key", "server.crt", "hba.conf"] {
        server.hand_over(&dir.join(f));
    }
    let file = |f: &str| dir.join(f).display().to_string();
    server.launch(&[
        ("ssl", "on"),
        ("ssl_cert_file", &file("server.crt")),
        ("ssl_key_file", &file("server.key")),
        ("hba_file", &file("hba.conf")),
    ]);
    let ca = file("ca.crt");
    let with = |host: &str, query: &str| format!("{}?{query}", server.url_as(host));
    runtime().block_on(async {
        let err = connect(&with("127.0.0.1", "sslmode=disable"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no encryption"), "{err}");

        let store = connect(&with("127.0.0.1", "sslmode=require"))
            .await
            .unwrap();
        assert_eq!(store.info().await.unwrap().points, 0);
        // The default, as libpq's, is prefer: TLS when the server offers it.
        connect(&server.url()).await.unwrap();

        let full = format!("sslmode=verify-full&sslrootcert={ca}");
        connect(&with("127.0.0.1", &full)).await.unwrap();
        // localhost is this very server, but the certificate was issued for 127.0.0.1 only.
        let err = connect(&with("localhost", &full)).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("not valid for name"), "{text}");
        assert!(text.contains("localhost"), "{text}");
        // verify-ca checks the chain, not the name.
        let ca_only = format!("sslmode=verify-ca&sslrootcert={ca}");
        connect(&with("localhost", &ca_only)).await.unwrap();
        // Another CA's root does not vouch for this server.
        let other = format!("sslmode=verify-full&sslrootcert={}", file("other.crt"));
        let err = connect(&with("127.0.0.1", &other)).await.unwrap_err();
        assert!(
            err.to_string().contains("invalid peer certificate"),
            "{err}"
        );
        // A verifying mode without a root certificate says where one is looked for.
        let err = connect(&with("127.0.0.1", "sslmode=verify-full"))
            .await
            .unwrap_err();
        if !Path::new(&std::env::var("HOME").unwrap_or_default())
            .join(".postgresql/root.crt")
            .exists()
        {
            assert!(err.to_string().contains("sslrootcert"), "{err}");
        }
    });
}

#[test]
fn the_password_comes_from_a_passfile_and_is_never_shown() {
    let server = PgServer::start();
    server.psql("ALTER USER postgres PASSWORD 'Secr3t-pw'");
    let dir = server.dir().to_path_buf();
    std::fs::write(
        dir.join("hba.conf"),
        "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
    )
    .unwrap();
    server.hand_over(&dir.join("hba.conf"));
    let hba = dir.join("hba.conf").display().to_string();
    server.stop();
    server.launch(&[("hba_file", &hba)]);

    let scratch = tempfile::tempdir().unwrap();
    let passfile = scratch.path().join("pgpass");
    std::fs::write(
        &passfile,
        format!("127.0.0.1:{}:*:postgres:Secr3t-pw\n", server.port()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    runtime().block_on(async {
        let err = connect(&server.url()).await.unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");

        let url = format!("{}?passfile={}", server.url(), passfile.display());
        let store = connect(&url).await.unwrap();
        assert_eq!(store.info().await.unwrap().points, 0);

        // A wrong password in the URL is refused, and not repeated in the message.
        let wrong = server.url().replace("postgres@", "postgres:Wr0ng-pw@");
        let err = connect(&wrong).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("postgres:***@"), "{text}");
        assert!(!text.contains("Wr0ng-pw"), "{text}");
    });
}
