//! Getting a feed's image bytes: a path under the images root, or an `http(s)` URL fetched with
//! a timeout, a size limit and a content-type check, never from a private or loopback address
//! (checked on every connection, so after each redirect too) unless that is allowed.
//!
//! ureq (blocking, small, rustls) does the HTTP; its `Resolver` hook is where addresses are
//! checked, so that no connection to a refused address is ever opened.

use std::io::Read;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How images are fetched.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Where relative image paths are looked for; `None` refuses paths (URLs only).
    pub images_root: Option<PathBuf>,
    /// The whole request's time limit (connect, headers and body).
    pub timeout: Duration,
    /// The largest image body, in bytes; a longer one is cut off there and refused.
    pub max_bytes: u64,
    /// Whether URLs may point at private, loopback and link-local addresses.
    pub allow_private: bool,
    /// `host:port`s allowed although private (an internal image server); every other private
    /// address stays refused, redirects included.
    pub allow_private_hosts: Vec<String>,
    /// Redirects followed at most.
    pub redirects: u32,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            images_root: None,
            timeout: Duration::from_secs(20),
            max_bytes: 20 << 20,
            allow_private: false,
            allow_private_hosts: Vec::new(),
            redirects: 5,
        }
    }
}

/// Where an image's bytes came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A file under the images root (added by its path, as `index add` does).
    File(PathBuf),
    /// Fetched from a URL.
    Url,
}

/// Fetches image references; cheap to share between threads.
pub struct Fetcher {
    agent: ureq::Agent,
    options: FetchOptions,
}

/// Refuses to connect to private addresses, but those of the allowed `host:port`s.
struct PublicOnly {
    allowed: Vec<String>,
}

impl ureq::Resolver for PublicOnly {
    fn resolve(&self, netloc: &str) -> std::io::Result<Vec<SocketAddr>> {
        let addrs: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
        if self.allowed.iter().any(|a| a.eq_ignore_ascii_case(netloc)) {
            return Ok(addrs);
        }
        if let Some(bad) = addrs.iter().find(|a| is_private(a.ip())) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "refused: {netloc} is the private or loopback address {} \
                     (--allow-private-urls allows it)",
                    bad.ip()
                ),
            ));
        }
        Ok(addrs)
    }
}

/// Loopback, private (RFC 1918, unique local), link-local, shared (CGNAT), unspecified,
/// broadcast, multicast and documentation addresses, and IPv4 inside IPv6.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

impl Fetcher {
    /// A fetcher with these options.
    pub fn new(options: FetchOptions) -> Self {
        let mut builder = ureq::AgentBuilder::new()
            .timeout(options.timeout)
            .redirects(options.redirects)
            .user_agent(concat!("lookalike/", env!("CARGO_PKG_VERSION")));
        if !options.allow_private {
            builder = builder.resolver(PublicOnly {
                allowed: options.allow_private_hosts.clone(),
            });
        }
        Fetcher {
            agent: builder.build(),
            options,
        }
    }

    /// The bytes of one reference, and where they came from.
    pub fn fetch(&self, reference: &str) -> Result<(Vec<u8>, Origin), String> {
        let lower = reference.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            return self.fetch_url(reference).map(|b| (b, Origin::Url));
        }
        if lower.contains("://") {
            return Err(format!("{reference}: only http and https URLs are fetched"));
        }
        let path = self.local_path(reference)?;
        let bytes = read_limited(
            std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?,
            self.options.max_bytes,
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok((bytes, Origin::File(path)))
    }

    /// A relative path under the images root (which it may not leave).
    fn local_path(&self, reference: &str) -> Result<PathBuf, String> {
        let root = self.options.images_root.as_ref().ok_or_else(|| {
            format!("{reference}: a path, but no --images-root was given to look for it under")
        })?;
        let relative = Path::new(reference);
        if relative.is_absolute()
            || relative
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(format!(
                "{reference}: image paths are relative to --images-root and stay under it"
            ));
        }
        Ok(root.join(relative))
    }

    fn fetch_url(&self, url: &str) -> Result<Vec<u8>, String> {
        let response = self.agent.get(url).call().map_err(|e| match e {
            ureq::Error::Status(code, _) => format!("{url}: HTTP {code}"),
            // Its text names the URL (the redirect's, after one) and the cause.
            ureq::Error::Transport(t) if t.url().is_some() => t.to_string(),
            ureq::Error::Transport(t) => format!("{url}: {t}"),
        })?;
        let content_type = response.content_type().to_ascii_lowercase();
        if !content_type.starts_with("image/") {
            return Err(format!(
                "{url}: the content type is {content_type:?}, not an image"
            ));
        }
        if let Some(length) = response
            .header("content-length")
            .and_then(|l| l.trim().parse::<u64>().ok())
        {
            if length > self.options.max_bytes {
                return Err(format!(
                    "{url}: {length} bytes, more than the limit of {} bytes",
                    self.options.max_bytes
                ));
            }
        }
        read_limited(response.into_reader(), self.options.max_bytes).map_err(|e| {
            if e.kind() == std::io::ErrorKind::TimedOut
                || e.kind() == std::io::ErrorKind::WouldBlock
            {
                format!("{url}: timed out after {:?}", self.options.timeout)
            } else {
                format!("{url}: {e}")
            }
        })
    }
}

/// Reads at most `limit` bytes; more is an error (the rest is never read).
fn read_limited(reader: impl Read, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the body is larger than the limit of {limit} bytes; cut off there"),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "172.32.0.1"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn paths_stay_under_the_root() {
        let f = Fetcher::new(FetchOptions {
            images_root: Some("/srv/images".into()),
            ..FetchOptions::default()
        });
        assert!(f.fetch("../etc/passwd").unwrap_err().contains("stay under"));
        assert!(f.fetch("/etc/passwd").unwrap_err().contains("stay under"));
        assert!(f.fetch("ftp://x/y.png").unwrap_err().contains("only http"));
        let none = Fetcher::new(FetchOptions::default());
        assert!(none.fetch("a.png").unwrap_err().contains("--images-root"));
        // An IP literal goes through the same check as a name.
        let e = none.fetch("http://127.0.0.1:9/x.png").unwrap_err();
        assert!(e.contains("refused"), "{e}");
    }
}
