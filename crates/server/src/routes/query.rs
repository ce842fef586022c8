//! What search and explain share: the query image (an upload, base64, or a stored id), the
//! method and layer of an explanation, and turning the query into pixels off the async workers.

use std::sync::Arc;

use actix_web::web;
use lookalike_engine::collection::{Collection, Crop, QueryImage, UsedBox};
use lookalike_explain::{Layer, ScoreTarget};
use serde::Deserialize;
use serde_json::Value;

use crate::body::{base64_image, Form};
use crate::error::ApiError;
use crate::state::{AppState, Job};

/// Where the query image comes from.
#[derive(Debug)]
pub enum Source {
    /// Bytes sent with the request; `name` for messages.
    Bytes {
        /// The file's bytes.
        bytes: Vec<u8>,
        /// Its name.
        name: String,
    },
    /// An image of the collection ("more like this").
    Stored(u64),
    /// A product of the collection: the search resolves it to its first image.
    Product(String),
}

impl Source {
    /// From JSON's `image` (base64) or `id`: exactly one.
    pub fn from_json(image: Option<String>, id: Option<u64>) -> Result<Self, ApiError> {
        match (image, id) {
            (Some(text), None) => Ok(Source::Bytes {
                bytes: base64_image(&text, "`image`")?,
                name: "the uploaded image".into(),
            }),
            (None, Some(id)) => Ok(Source::Stored(id)),
            _ => Err(ApiError::bad_request(
                "give exactly one query: `image` (base64) or `id` (a stored image)",
            )),
        }
    }

    /// From a form's `image` file part (or its only file), or its `id` field.
    pub fn from_form(form: &mut Form) -> Result<Self, ApiError> {
        let id = form.number::<u64>("id")?;
        let position = form
            .files
            .iter()
            .position(|f| f.field == "image")
            .or_else(|| (form.files.len() == 1).then_some(0));
        match (position, id) {
            (Some(i), None) => {
                let file = form.files.swap_remove(i);
                Ok(Source::Bytes {
                    bytes: file.bytes,
                    name: file.name,
                })
            }
            (None, Some(id)) => Ok(Source::Stored(id)),
            _ => Err(ApiError::bad_request(
                "give exactly one query: an `image` file part or an `id` field",
            )),
        }
    }
}

/// An explanation's method, layer, target and masks, as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainOptions {
    /// The explainer (`gradcam` when absent).
    pub method: Option<String>,
    /// `last` or a unit number (text or number).
    pub layer: Option<Value>,
    /// `logit` (default) or `probability`.
    pub target: Option<String>,
    /// RISE's mask count.
    pub masks: Option<usize>,
}

impl ExplainOptions {
    /// From a form's `method`, `layer`, `target` and `masks` fields.
    pub fn from_form(form: &crate::body::Form) -> Result<Self, ApiError> {
        Ok(ExplainOptions {
            method: form.text("method").map(str::to_string),
            layer: form.text("layer").map(|l| Value::String(l.to_string())),
            target: form.text("target").map(str::to_string),
            masks: form.number("masks")?,
        })
    }
}

/// A checked method name, layer and options.
#[derive(Debug, Clone)]
pub struct Method {
    /// The registered name.
    pub name: String,
    /// The target layer.
    pub layer: Layer,
    /// The explained score and RISE's masks.
    pub options: lookalike_explain::ExplainOptions,
}

impl ExplainOptions {
    /// Checks the method against the registry and the layer against the collection's model.
    pub fn check(&self, state: &AppState, collection: &Collection) -> Result<Method, ApiError> {
        let name = self.method.as_deref().unwrap_or("gradcam");
        let explainer = state.registry.get(name)?;
        let text = match &self.layer {
            None | Some(Value::Null) => "last".to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "`layer` must be \"last\" or a unit number, not {other}"
                )))
            }
        };
        let units = collection.models().facts().units;
        let layer = Layer::parse(&text).map_err(|_| {
            ApiError::bad_request(format!(
                "layer {text:?} is not `last` or a unit number from 1 to {units}"
            ))
        })?;
        layer.resolve(units)?;
        let target = match self.target.as_deref() {
            None => ScoreTarget::Logit,
            Some(t) => ScoreTarget::parse(t).map_err(|_| {
                ApiError::bad_request(format!(
                    "unknown target {t:?}: expected \"logit\" or \"probability\""
                ))
            })?,
        };
        let options = lookalike_explain::ExplainOptions {
            target,
            masks: self.masks,
            max_masks: state.config.max_masks,
            ..lookalike_explain::ExplainOptions::default()
        };
        if self.masks.is_some() || explainer.name() == "rise" {
            options
                .checked_masks()
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
        }
        Ok(Method {
            name: explainer.name().to_string(),
            layer,
            options,
        })
    }
}

/// The query image (decoded and preprocessed off the async workers) and, with `embed`, its
/// index vector.
pub async fn load(
    state: &web::Data<AppState>,
    collection: &Arc<Collection>,
    name: &str,
    source: Source,
    embed: bool,
) -> Result<(QueryImage, Option<Vec<f32>>), ApiError> {
    let (query, vector, _) =
        load_cropped(state, collection, name, source, embed, Crop::Whole).await?;
    Ok((query, vector))
}

/// [`load`], cut to `crop` first; also returns the box used.
pub async fn load_cropped(
    state: &web::Data<AppState>,
    collection: &Arc<Collection>,
    name: &str,
    source: Source,
    embed: bool,
    crop: Crop,
) -> Result<(QueryImage, Option<Vec<f32>>, Option<UsedBox>), ApiError> {
    let file = match &source {
        Source::Stored(id) => Some(
            collection
                .image_source(*id)
                .await?
                .ok_or_else(|| ApiError::unknown_image(name, *id))?,
        ),
        Source::Bytes { .. } => None,
        Source::Product(p) => {
            return Err(ApiError::internal(format!(
                "product {p:?} was not resolved to an image"
            )))
        }
    };
    let limits = state.config.limits;
    let collection = collection.clone();
    state
        .run(Job::Search, move || {
            let preprocess = collection.preprocess();
            let (query, used) = match (source, file) {
                (Source::Stored(id), Some(file)) => {
                    let bytes = file.into_bytes(id)?;
                    QueryImage::from_bytes_cropped(
                        &bytes,
                        "the stored image",
                        &limits,
                        &preprocess,
                        crop,
                    )?
                }
                (Source::Bytes { bytes, name }, None) => {
                    QueryImage::from_bytes_cropped(&bytes, &name, &limits, &preprocess, crop)?
                }
                (Source::Stored(id), None) => {
                    return Err(ApiError::internal(format!("image {id} has no file")))
                }
                (Source::Product(p), None) => {
                    return Err(ApiError::internal(format!("product {p:?} has no image")))
                }
                (_, Some(_)) => return Err(ApiError::internal("a stored file for another source")),
            };
            let vector = if embed {
                Some(collection.vector_of(&query)?)
            } else {
                None
            };
            Ok((query, vector, used))
        })
        .await
}
