//! hasim over TLS: a run reaches Postgres encrypted when its URL asks for it
//! (`sslmode=require`, as managed servers do), and its webhooks reach an `https://`
//! endpoint whose certificate the system trusts (`SSL_CERT_FILE` names a private
//! CA) and refuse one it does not. The Postgres tests need the tests' server to offer
//! TLS (Debian's does: `ssl = on` with its snakeoil certificate); the endpoint is a
//! TLS server of this file's own, with a CA and certificate made by `openssl`.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{database_url, hasim, run};
use hasim::store::RunSchema;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The tests' server URL with `sslmode` set to `mode`.
fn with_sslmode(mode: &str) -> String {
    let url = database_url();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}sslmode={mode}")
}

/// Whether a connection of a run's pool, reached through `url`, is encrypted.
fn pool_is_encrypted(url: &str) -> bool {
    run(async {
        let schema = RunSchema::create(url).await.unwrap_or_else(|e| {
            panic!("{e}\n(the tests' server must offer TLS: ssl = on in postgresql.conf)")
        });
        let pool = schema.pool("tls-test", 1, None).await.expect("a pool");
        let (ssl,): (bool,) = sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&pool)
            .await
            .expect("pg_stat_ssl answers");
        pool.close().await;
        schema.drop_schema().await.expect("the schema drops");
        ssl
    })
}

#[test]
fn a_run_pool_is_encrypted_when_the_url_requires_tls_and_plain_when_it_disables_it() {
    assert!(pool_is_encrypted(&with_sslmode("require")), "sslmode=require gave a plain connection");
    assert!(!pool_is_encrypted(&with_sslmode("disable")), "sslmode=disable gave an encrypted connection");
}

#[test]
fn a_scenario_runs_and_passes_on_postgres_reached_over_tls() {
    let url = with_sslmode("require");
    let out = hasim(&[
        "run",
        "scenarios/happy-path.toml",
        "--store",
        "postgres",
        "--database-url",
        &url,
        "--quiet",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{}\n{stderr}", String::from_utf8_lossy(&out.stdout));
}

/// A CA, and a certificate for 127.0.0.1 that it signed, made by `openssl` in a
/// directory of their own.
struct Certificates {
    dir: PathBuf,
}

impl Certificates {
    fn make() -> Certificates {
        let dir = std::env::temp_dir().join(format!("hasim-tls-{}-{:x}", std::process::id(), rand_suffix()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        std::fs::write(
            dir.join("leaf.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .expect("the extensions file");
        let steps: [&[&str]; 3] = [
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=hasim test CA",
            ],
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "leaf.key",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
            &[
                "x509",
                "-req",
                "-in",
                "leaf.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "leaf.pem",
                "-days",
                "2",
                "-extfile",
                "leaf.ext",
            ],
        ];
        for args in steps {
            let out = Command::new("openssl").args(args).current_dir(&dir).output().expect("openssl runs");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Certificates { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Certificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// An HTTPS endpoint on 127.0.0.1 that answers every request 200 and keeps the
/// request lines it read, served by a thread of its own until the process ends.
struct HttpsEndpoint {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
}

impl HttpsEndpoint {
    fn start(certificate: &Path, key: &Path) -> HttpsEndpoint {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain = vec![CertificateDer::from_pem_file(certificate).expect("the certificate")];
        let key = PrivateKeyDer::from_pem_file(key).expect("the key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("a server configuration");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("an address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("a listener");
                loop {
                    let Ok((socket, _)) = listener.accept().await else { continue };
                    let (acceptor, seen) = (acceptor.clone(), seen.clone());
                    tokio::spawn(async move {
                        // A handshake the client refuses ends here: nothing is read.
                        let Ok(mut tls) = acceptor.accept(socket).await else { return };
                        while let Some(line) = read_request(&mut tls).await {
                            seen.lock().unwrap().push(line);
                            let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                            if tls.write_all(reply).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            });
        });
        HttpsEndpoint { addr, requests }
    }

    fn url(&self) -> String {
        format!("https://{}/webhook", self.addr)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Reads one HTTP request (head and `content-length` body); its request line, or
/// `None` at the end of the stream.
async fn read_request(stream: &mut (impl AsyncReadExt + Unpin)) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let length = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.ok()?;
    head.lines().next().map(str::to_owned)
}

/// A scenario whose one plan completes, announced to `url`.
fn scenario_file(dir: &Path, url: &str) -> PathBuf {
    let path = dir.join("https-endpoint.toml");
    let mut file = std::fs::File::create(&path).expect("the scenario file");
    write!(
        file,
        r#"
name = "https-endpoint"
description = "One plan completes; its webhook goes to an https endpoint."

[webhook]
url = "{url}"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
timeout = "2s"

[[plans]]
name = "deploy"
  [[plans.tasks]]
  name = "migrate"
  duration = "20ms"

[[timeline]]
at = "0ms"
plan = "deploy"
action = "run"

[[expect]]
pass = true
"#
    )
    .expect("the scenario is written");
    path
}

/// Runs the scenario at `file` on the memory store, with `SSL_CERT_FILE` set to
/// `trust` when given.
fn run_against(file: &Path, trust: Option<&Path>) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hasim"));
    command
        .args(["run", file.to_str().unwrap(), "--store", "memory"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("HASIM_RESULTS", common::results_root());
    match trust {
        Some(ca) => command.env("SSL_CERT_FILE", ca),
        None => command.env("SSL_CERT_FILE", "/nonexistent/no-ca.pem"),
    };
    command.output().expect("the hasim binary runs")
}

#[test]
fn webhooks_reach_an_https_endpoint_whose_ca_is_trusted() {
    let certs = Certificates::make();
    let endpoint = HttpsEndpoint::start(&certs.path("leaf.pem"), &certs.path("leaf.key"));
    let file = scenario_file(&certs.dir, &endpoint.url());
    let out = run_against(&file, Some(&certs.path("ca.pem")));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // The plan's one PIPELINE_COMPLETED, posted once over TLS.
    assert_eq!(endpoint.requests(), ["POST /webhook HTTP/1.1"], "{stdout}");
}

#[test]
fn webhooks_are_not_sent_to_an_https_endpoint_whose_certificate_is_not_trusted() {
    let certs = Certificates::make();
    let endpoint = HttpsEndpoint::start(&certs.path("leaf.pem"), &certs.path("leaf.key"));
    let file = scenario_file(&certs.dir, &endpoint.url());
    let out = run_against(&file, None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Every send fails its handshake, as sends an endpoint refuses: the completion is
    // undeliverable (which the contract allows), and the witness says why.
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("undeliverable"), "{stdout}");
    assert!(stdout.contains("invalid peer certificate: UnknownIssuer"), "{stdout}");
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        endpoint.requests().is_empty(),
        "a request crossed an untrusted handshake: {:?}",
        endpoint.requests()
    );
}
