//! Request bodies: JSON, or `multipart/form-data` with image files and text fields, read with a
//! byte limit (413 past it) and nothing else accepted (415).

use std::collections::BTreeMap;

use actix_multipart::Multipart;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest};
use base64::Engine;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The most parts a form may have.
const MAX_PARTS: usize = 64;
/// The longest text field of a form.
const MAX_FIELD_BYTES: usize = 64 << 10;

/// A file sent in a form.
#[derive(Debug, Clone)]
pub struct FilePart {
    /// The form field's name.
    pub field: String,
    /// The file name the client gave, or the field's name.
    pub name: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A `multipart/form-data` body.
#[derive(Debug, Default)]
pub struct Form {
    /// File parts, in order.
    pub files: Vec<FilePart>,
    /// Text parts by name (the last one wins).
    pub fields: BTreeMap<String, String>,
}

/// A request body.
#[derive(Debug)]
pub enum Body {
    /// `application/json`.
    Json(serde_json::Value),
    /// `multipart/form-data`.
    Form(Form),
}

/// Reads a metadata patch: a JSON object to merge (`null` removes a key), or a clear error.
pub async fn metadata_patch(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    match read(req, payload, limit).await? {
        Body::Json(serde_json::Value::Object(m)) => Ok(m),
        _ => Err(ApiError::bad_request(
            "send the metadata to merge as a JSON object",
        )),
    }
}

/// The largest JSON body for `limit` bytes of images: base64 is 4/3 of the bytes, plus room for
/// metadata.
pub fn json_limit(limit: usize) -> usize {
    limit / 3 * 4 + (256 << 10)
}

/// Reads the body as JSON or a form, at most `limit` bytes of files (and [`json_limit`] of JSON).
pub async fn read(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Body, ApiError> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let essence = content_type.split(';').next().unwrap_or("").trim();
    match essence {
        "application/json" => {
            check_length(req, json_limit(limit), limit)?;
            let bytes = payload
                .to_bytes_limited(json_limit(limit))
                .await
                .map_err(|_| ApiError::too_large(limit))?
                .map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?;
            let value = serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?;
            Ok(Body::Json(value))
        }
        "multipart/form-data" => {
            // The form's own framing adds a little to the files' bytes.
            check_length(req, limit + MAX_PARTS * 512 + MAX_FIELD_BYTES, limit)?;
            read_form(Multipart::new(req.headers(), payload), limit)
                .await
                .map(Body::Form)
        }
        "" => Err(ApiError::unsupported(
            "the request has no Content-Type: send application/json or multipart/form-data",
        )),
        other => Err(ApiError::unsupported(format!(
            "Content-Type {other:?} is not accepted here: send application/json or multipart/form-data"
        ))),
    }
}

/// Refuses a body whose declared length is over `allowed` before reading any of it (the
/// message names the server's upload `limit`).
fn check_length(req: &HttpRequest, allowed: usize, limit: usize) -> Result<(), ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match declared {
        Some(n) if n > allowed => Err(ApiError::too_large(limit)),
        _ => Ok(()),
    }
}

async fn read_form(mut form: Multipart, limit: usize) -> Result<Form, ApiError> {
    let malformed = |e: actix_multipart::MultipartError| {
        ApiError::bad_request(format!("malformed multipart/form-data body: {e}"))
    };
    let mut out = Form::default();
    let mut total = 0usize;
    let mut parts = 0usize;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(malformed)?;
        parts += 1;
        if parts > MAX_PARTS {
            return Err(ApiError::bad_request(format!(
                "a form may have at most {MAX_PARTS} parts"
            )));
        }
        let disposition = field.content_disposition().cloned();
        let name = disposition
            .as_ref()
            .and_then(|d| d.get_name())
            .unwrap_or("")
            .to_string();
        let filename = disposition
            .as_ref()
            .and_then(|d| d.get_filename())
            .map(str::to_string);
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(malformed)?;
            total += chunk.len();
            if total > limit {
                return Err(ApiError::too_large(limit));
            }
            if filename.is_none() && bytes.len() + chunk.len() > MAX_FIELD_BYTES {
                return Err(ApiError::bad_request(format!(
                    "the form field {name:?} is longer than {MAX_FIELD_BYTES} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        match filename {
            Some(file) => out.files.push(FilePart {
                name: if file.is_empty() { name.clone() } else { file },
                field: name,
                bytes,
            }),
            None => {
                let text = String::from_utf8(bytes).map_err(|_| {
                    ApiError::bad_request(format!("the form field {name:?} is not UTF-8 text"))
                })?;
                out.fields.insert(name, text);
            }
        }
    }
    Ok(out)
}

/// A JSON value as a request type, or 400 naming what is wrong.
pub fn parse<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::bad_request(format!("bad request: {e}")))
}

/// Base64 image bytes (a `data:` URL is accepted too), or 400.
pub fn base64_image(text: &str, what: &str) -> Result<Vec<u8>, ApiError> {
    let data = match text.split_once(";base64,") {
        Some((head, data)) if head.starts_with("data:") => data,
        _ => text,
    };
    let data: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(data.as_bytes())
        .map_err(|e| ApiError::bad_request(format!("{what} is not valid base64: {e}")))
}

impl Form {
    /// A text field parsed as `T`, or 400 naming the field.
    pub fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.fields
            .get(name)
            .filter(|v| !v.trim().is_empty())
            .map(|v| {
                v.trim().parse::<T>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "the form field {name:?} is not a valid number: {v:?}"
                    ))
                })
            })
            .transpose()
    }

    /// A text field holding JSON, or 400 naming the field.
    pub fn json(&self, name: &str) -> Result<Option<serde_json::Value>, ApiError> {
        self.fields
            .get(name)
            .filter(|v| !v.trim().is_empty())
            .map(|v| {
                serde_json::from_str(v).map_err(|e| {
                    ApiError::bad_request(format!("the form field {name:?} is not valid JSON: {e}"))
                })
            })
            .transpose()
    }

    /// A non-empty text field.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}
