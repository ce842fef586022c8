//! `lookalike serve` started as a user starts it, on port 0, and a small HTTP client for it.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::Value;

use crate::{lookalike, picture, shapes_dataset, text};

/// A running `lookalike serve`; stopped when dropped.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    child: Child,
}

/// A response: status, content type and body.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The Content-Type header.
    pub content_type: String,
    /// Every header, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (panics with the body if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(500)])
            )
        })
    }

    /// The value of header `name` (any case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The error message of an error reply.
    pub fn message(&self) -> String {
        self.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl TestServer {
    /// Starts `lookalike serve --data-dir DATA --bind 127.0.0.1:0 EXTRA...` with `env` set, and
    /// waits for the address it prints.
    pub fn start(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(crate::lookalike_bin());
        command
            .args(["serve", "--data-dir"])
            .arg(data)
            .args(["--bind", "127.0.0.1:0"])
            .args(extra)
            .env_remove("LOOKALIKE_API_KEYS")
            .env_remove("LOOKALIKE_ADMIN_KEYS")
            .env_remove("LOOKALIKE_LOCK_READS")
            .env_remove("LOOKALIKE_READ_KEYS")
            .env_remove("LOOKALIKE_CORS_ORIGINS")
            .env_remove("LOOKALIKE_CORS_CREDENTIALS")
            .env("RUST_BACKTRACE", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("lookalike serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the server prints its address");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://") || w.starts_with("https://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .trim_end_matches('/')
            .to_string();
        TestServer { url, child }
    }

    fn agent() -> ureq::Agent {
        ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(120))
            .build()
    }

    fn finish(result: Result<ureq::Response, ureq::Error>) -> Reply {
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("request failed: {e}"),
        };
        let status = response.status();
        let content_type = response.content_type().to_string();
        let headers = response
            .headers_names()
            .into_iter()
            .filter_map(|n| {
                let value = response.header(&n)?.to_string();
                Some((n.to_ascii_lowercase(), value))
            })
            .collect();
        let mut body = Vec::new();
        response
            .into_reader()
            .take(64 << 20)
            .read_to_end(&mut body)
            .expect("a readable body");
        Reply {
            status,
            content_type,
            headers,
            body,
        }
    }

    /// `METHOD path` with headers and no body.
    pub fn call(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut req = Self::agent().request(method, &format!("{}{path}", self.url));
        for (k, v) in headers {
            req = req.set(k, v);
        }
        Self::finish(req.call())
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Reply {
        self.call("GET", path, &[])
    }

    /// `METHOD path` with a body of `content_type`.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        content_type: &str,
        body: &[u8],
    ) -> Reply {
        let mut req = Self::agent()
            .request(method, &format!("{}{path}", self.url))
            .set("Content-Type", content_type);
        for (k, v) in headers {
            req = req.set(k, v);
        }
        Self::finish(req.send_bytes(body))
    }

    /// `METHOD path` with a JSON body.
    pub fn json(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &Value) -> Reply {
        self.send(
            method,
            path,
            headers,
            "application/json",
            body.to_string().as_bytes(),
        )
    }

    /// `POST path` with a multipart form: `(name, Some(filename), bytes)` for files,
    /// `(name, None, text)` for fields.
    pub fn form(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        parts: &[(&str, Option<&str>, &[u8])],
    ) -> Reply {
        let boundary = "lookalike-test-boundary-7f3a9c";
        let mut body = Vec::new();
        for (name, file, bytes) in parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match file {
                Some(f) => body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                         Content-Type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                ),
                None => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.send(
            "POST",
            path,
            headers,
            &format!("multipart/form-data; boundary={boundary}"),
            &body,
        )
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// Fixtures of the server tests.

/// The user key the server tests start servers with.
pub const KEY: &str = "user-key-1";
/// The admin key the server tests start servers with.
pub const ADMIN: &str = "admin-key-1";

/// A tiny-CNN collection `shop` of 4 shapes × 6 images in a fresh data folder.
pub fn catalogue(dir: &Path) -> std::path::PathBuf {
    catalogue_in(dir, &[])
}

/// [`catalogue`], with extra `index create` options (another store).
pub fn catalogue_in(dir: &Path, store: &[&str]) -> std::path::PathBuf {
    let images = dir.join("images");
    shapes_dataset(&images, 4, 6, 3);
    let data = dir.join("data");
    crate::create_tiny_collection(&data, "shop", store);
    let add = [
        "index",
        "add",
        "shop",
        images.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "-q",
    ];
    let run = lookalike(&add);
    assert!(run.status.success(), "{add:?}: {}", text(&run).1);
    data
}

/// A generated 64 × 64 PNG.
pub fn png(seed: u32) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    picture(64, 64, seed)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

/// Standard base64.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Asserts the reply's status and that its error message contains `needle` (if not empty).
pub fn expect(reply: &Reply, status: u16, needle: &str) {
    assert_eq!(
        reply.status,
        status,
        "expected {status}, got {}: {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    if !needle.is_empty() {
        let message = reply.message();
        assert!(
            message.contains(needle),
            "expected {needle:?} in {message:?}"
        );
    }
}

/// How many images collection `shop` holds, as the server says.
pub fn images_in(server: &TestServer) -> u64 {
    server.get("/api/collections/shop").json()["images"]
        .as_u64()
        .unwrap()
}
