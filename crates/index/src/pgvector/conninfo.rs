//! Connection strings: what is stored, what is shown, and where the password comes from.
//!
//! Lookalike never writes a password to disk. A collection stores its URL without one
//! ([`strip_password`]); messages show it with `***` ([`redact_url`]). On connect the password
//! comes, as libpq's does, from the URL given on this run, then `PGPASSWORD`, then the passfile
//! (`passfile=` in the URL, `PGPASSFILE`, or `~/.pgpass`, which must not be readable by others).
//!
//! tokio-postgres knows `sslmode=disable|prefer|require` only; the libpq settings it lacks
//! (`sslmode=verify-ca|verify-full`, `sslrootcert`, `passfile`) are taken out here and applied by
//! [`super::tls`].

use std::path::{Path, PathBuf};

use crate::StoreError;

/// How the connection is encrypted, with libpq's names and meanings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SslMode {
    /// Plain text.
    Disable,
    /// TLS if the server offers it, without checking its certificate (libpq's default).
    Prefer,
    /// TLS or nothing; the certificate is not checked.
    Require,
    /// TLS, with a certificate signed by the root certificate; any host name.
    VerifyCa,
    /// TLS, with a certificate signed by the root certificate and issued for the host.
    VerifyFull,
}

impl SslMode {
    /// libpq's name for it (what a `postgres_fdw` server option takes).
    pub fn libpq_name(&self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn parse(value: &str) -> Result<SslMode, String> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
                ))
            }
        })
    }
}

/// A connection string taken apart: what tokio-postgres connects with, and the TLS settings.
#[derive(Debug)]
pub struct ConnInfo {
    /// Host, port, user, database and password (when one was found).
    pub config: tokio_postgres::Config,
    /// The encryption asked for.
    pub ssl_mode: SslMode,
    /// The root certificate for `verify-ca` / `verify-full`.
    pub root_cert: Option<PathBuf>,
    /// The URL as messages show it.
    pub shown: String,
}

impl ConnInfo {
    /// Parses `url` (a `postgres://` URL or `key=value` words) and finds its password.
    pub fn parse(url: &str) -> Result<ConnInfo, StoreError> {
        let shown = redact_url(url);
        let bad = |message: String| StoreError::Unreachable {
            url: shown.clone(),
            message,
        };
        let (rest, extras) = take_libpq_settings(url);
        let mut config: tokio_postgres::Config = rest
            .parse()
            .map_err(|e| bad(format!("not a PostgreSQL URL: {e}")))?;
        let mut ssl_mode = SslMode::Prefer;
        let mut root_cert = std::env::var_os("PGSSLROOTCERT").map(PathBuf::from);
        let mut passfile = std::env::var_os("PGPASSFILE").map(PathBuf::from);
        if let Ok(mode) = std::env::var("PGSSLMODE") {
            ssl_mode = SslMode::parse(&mode).map_err(|e| bad(format!("PGSSLMODE: {e}")))?;
        }
        for (key, value) in extras {
            match key.as_str() {
                "sslmode" => ssl_mode = SslMode::parse(&value).map_err(bad)?,
                "sslrootcert" => root_cert = Some(PathBuf::from(value)),
                _ => passfile = Some(PathBuf::from(value)),
            }
        }
        if matches!(ssl_mode, SslMode::VerifyCa | SslMode::VerifyFull) && root_cert.is_none() {
            let default = home().map(|h| h.join(".postgresql/root.crt"));
            match default {
                Some(p) if p.exists() => root_cert = Some(p),
                _ => {
                    return Err(bad(
                        "sslmode=verify-ca/verify-full needs a root certificate: \
                         sslrootcert=FILE in the URL, PGSSLROOTCERT, or ~/.postgresql/root.crt"
                            .into(),
                    ))
                }
            }
        }
        if config.get_password().is_none() {
            if let Ok(password) = std::env::var("PGPASSWORD") {
                config.password(password);
            } else {
                let file = passfile.or_else(|| home().map(|h| h.join(".pgpass")));
                if let Some(file) = file {
                    if let Some(password) = passfile_lookup(&file, &config).map_err(bad)? {
                        config.password(password);
                    }
                }
            }
        }
        config.ssl_mode(match ssl_mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        Ok(ConnInfo {
            config,
            ssl_mode,
            root_cert,
            shown,
        })
    }
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// Splits `sslmode`, `sslrootcert` and `passfile` off a connection string.
fn take_libpq_settings(url: &str) -> (String, Vec<(String, String)>) {
    const OURS: [&str; 3] = ["sslmode", "sslrootcert", "passfile"];
    let mut extras = Vec::new();
    if url.contains("://") {
        let Some((base, query)) = url.split_once('?') else {
            return (url.to_string(), extras);
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if OURS.contains(&k) {
                extras.push((k.to_string(), percent_decode(v)));
            } else {
                kept.push(pair);
            }
        }
        let rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        (rest, extras)
    } else {
        let mut kept = Vec::new();
        for word in url.split_whitespace() {
            match word.split_once('=') {
                Some((k, v)) if OURS.contains(&k.trim()) => {
                    extras.push((k.trim().to_string(), v.trim_matches('\'').to_string()))
                }
                _ => kept.push(word),
            }
        }
        (kept.join(" "), extras)
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `user:password@` part of a URL: `(start, end)` byte offsets of the password, if any.
fn password_span(url: &str) -> Option<(usize, usize)> {
    let scheme_end = url.find("://")? + 3;
    let rest = &url[scheme_end..];
    let authority_len = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    let at = authority.rfind('@')?;
    let colon = authority[..at].find(':')?;
    Some((scheme_end + colon + 1, scheme_end + at))
}

/// `url` with its password replaced by `***`, for messages.
pub fn redact_url(url: &str) -> String {
    if url.contains("://") {
        return match password_span(url) {
            Some((start, end)) => format!("{}***{}", &url[..start], &url[end..]),
            None => url.to_string(),
        };
    }
    url.split_whitespace()
        .map(|kv| {
            if kv.starts_with("password=") {
                "password=***".to_string()
            } else {
                kv.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `url` without its password (`postgres://me:pw@db/x` becomes `postgres://me@db/x`), for
/// storing; `None` when it had none.
pub fn strip_password(url: &str) -> Option<String> {
    if url.contains("://") {
        let (start, end) = password_span(url)?;
        // Drop the ':' before the password as well.
        return Some(format!("{}{}", &url[..start - 1], &url[end..]));
    }
    let words: Vec<&str> = url.split_whitespace().collect();
    let kept: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !w.starts_with("password="))
        .collect();
    (kept.len() < words.len()).then(|| kept.join(" "))
}

/// The password for `config` in a libpq passfile (`host:port:database:user:password` lines,
/// `*` matching anything, `\` escaping `:` and `\`). A file others can read is refused, as libpq
/// ignores it, but with an error when it holds the line that would be used.
fn passfile_lookup(file: &Path, config: &tokio_postgres::Config) -> Result<Option<String>, String> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return Ok(None);
    };
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "localhost".to_string(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let user = config.get_user().unwrap_or_default().to_string();
    let dbname = config.get_dbname().unwrap_or(&user).to_string();
    let wanted = [host.as_str(), port.as_str(), dbname.as_str(), user.as_str()];
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_passfile_line(line);
        if fields.len() != 5 {
            continue;
        }
        let matches = fields[..4]
            .iter()
            .zip(wanted)
            .all(|(field, want)| field == "*" || field == want);
        if matches {
            check_private(file)?;
            return Ok(Some(fields[4].clone()));
        }
    }
    Ok(None)
}

fn split_passfile_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(f)) = (chars.next(), fields.last_mut()) {
                    f.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c)
                }
            }
        }
    }
    fields
}

#[cfg(unix)]
fn check_private(file: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(file)
        .map(|m| m.permissions().mode())
        .unwrap_or(0);
    if mode & 0o077 != 0 {
        return Err(format!(
            "password file {} has group or world access; libpq ignores it too (chmod 0600 it)",
            file.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_file: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact_url("postgres://me:secret@db:5432/x"),
            "postgres://me:***@db:5432/x"
        );
        assert_eq!(redact_url("postgres://db/x"), "postgres://db/x");
        assert_eq!(
            redact_url("postgres://db/x?application_name=a@b"),
            "postgres://db/x?application_name=a@b"
        );
        assert_eq!(
            redact_url("host=db password=secret user=me"),
            "host=db password=*** user=me"
        );
        assert_eq!(
            strip_password("postgres://me:s%40cret@db:5432/x?sslmode=require").as_deref(),
            Some("postgres://me@db:5432/x?sslmode=require")
        );
        assert_eq!(strip_password("postgres://me@db/x"), None);
        assert_eq!(
            strip_password("host=db password=secret user=me").as_deref(),
            Some("host=db user=me")
        );
    }

    #[test]
    fn libpq_settings_are_taken_out() {
        let (rest, extras) = take_libpq_settings(
            "postgres://me@db/x?sslmode=verify-full&connect_timeout=3&sslrootcert=%2Ftmp%2Fca.crt",
        );
        assert_eq!(rest, "postgres://me@db/x?connect_timeout=3");
        assert_eq!(
            extras,
            vec![
                ("sslmode".to_string(), "verify-full".to_string()),
                ("sslrootcert".to_string(), "/tmp/ca.crt".to_string())
            ]
        );
        let (rest, extras) = take_libpq_settings("host=db sslmode=require user=me");
        assert_eq!(rest, "host=db user=me");
        assert_eq!(extras.len(), 1);
        assert!(ConnInfo::parse("postgres://me@db/x?sslmode=sometimes").is_err());
    }

    #[test]
    fn passfile_lines_match_like_libpq() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(
            &file,
            "# comment\nother:5432:*:me:wrong\ndb:5432:*:me:pa\\:ss\n*:*:*:*:fallback\n",
        )
        .unwrap();
        let config: tokio_postgres::Config = "postgres://me@db/x".parse().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(passfile_lookup(&file, &config).is_err());
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert_eq!(
            passfile_lookup(&file, &config).unwrap().as_deref(),
            Some("pa:ss")
        );
        let config: tokio_postgres::Config = "postgres://you@elsewhere:6000/y".parse().unwrap();
        assert_eq!(
            passfile_lookup(&file, &config).unwrap().as_deref(),
            Some("fallback")
        );
    }
}
