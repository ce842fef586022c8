//! Every way a request can fail, as a status code and a JSON body:
//! `{"error": {"status": 404, "code": "unknown_collection", "message": "..."}}`.
//!
//! Bad input is always a 4xx that names the problem. Only faults of the server itself are 5xx,
//! and their body says no more than "internal error" (the detail goes to the server's log).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use lookalike_core::ImageError;
use lookalike_engine::collection::CollectionError;
use serde_json::json;

/// A failed request.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable, machine-readable code.
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
}

impl ApiError {
    /// An error with a status, a code and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400: the request is malformed or a parameter is out of range.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404: no such collection.
    pub fn unknown_collection(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "unknown_collection",
            format!("unknown collection {name:?}"),
        )
    }

    /// 404: no such image.
    pub fn unknown_image(collection: &str, id: u64) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "unknown_image",
            format!("collection {collection:?} has no image {id}"),
        )
    }

    /// 413: the body is larger than allowed.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the upload is larger than this server's limit of {limit} bytes"),
        )
    }

    /// 415: a content type or image format this server does not take.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_type",
            message,
        )
    }

    /// 503: the request took longer than the server's timeout.
    pub fn timed_out(seconds: f64) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!("the request took longer than {seconds} s; try again, or ask for less"),
        )
    }

    /// 500: a fault of the server; `detail` goes to its log, not to the client.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        eprintln!("error: {detail}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error (the server's log has the details)",
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        response.json(json!({
            "error": {
                "status": self.status.as_u16(),
                "code": self.code,
                "message": self.message,
            }
        }))
    }
}

impl From<ImageError> for ApiError {
    fn from(e: ImageError) -> Self {
        match e {
            ImageError::UnsupportedFormat { .. } => ApiError::unsupported(e.to_string()),
            ImageError::Empty { .. } | ImageError::TooLarge { .. } | ImageError::Corrupt { .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_image", e.to_string())
            }
            // Reading a file on the server failed: not the client's doing.
            _ => ApiError::internal(e),
        }
    }
}

impl From<lookalike_explain::Error> for ApiError {
    fn from(e: lookalike_explain::Error) -> Self {
        use lookalike_explain::Error as E;
        match e {
            E::UnknownMethod { .. } | E::LayerOutOfRange { .. } | E::BadInput(_) => {
                ApiError::bad_request(e.to_string())
            }
            _ => ApiError::internal(e),
        }
    }
}

impl From<CollectionError> for ApiError {
    fn from(e: CollectionError) -> Self {
        match e {
            CollectionError::Image(e) => e.into(),
            CollectionError::Explain(e) => e.into(),
            CollectionError::Invalid(m) => ApiError::bad_request(m),
            CollectionError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            CollectionError::Unknown { name, .. } => ApiError::unknown_collection(&name),
            e @ CollectionError::FileMissing { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "file_missing", e.to_string())
            }
            other => ApiError::internal(other),
        }
    }
}
