//! `POST /api/collections/{name}/search`: query by an upload, base64 or a stored id, with `k`,
//! `offset`, metadata filters (the grammar of `lookalike_index::Filter`), a minimum similarity
//! and grouping by product; optionally every hit explained in one batch.

use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use lookalike_engine::collection::{Crop, Provenance, Region, SearchRequest};
use lookalike_index::{Condition, Filter, Metadata};
use serde::Deserialize;
use serde_json::{json, Value};

use super::image_view;
use super::query::{load, load_cropped, ExplainOptions, Source};
use crate::auth::{check, Access};
use crate::body::{self, Body};
use crate::error::ApiError;
use crate::explanation::view;
use crate::state::{AppState, Job};

/// The most hits one search returns.
pub const MAX_K: usize = 1000;
/// The widest HNSW beam a search may ask for (wider costs time, not recall, past a point).
pub const MAX_EF: usize = 10_000;
/// The most hits one search explains.
pub const MAX_EXPLAINED: usize = 50;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchJson {
    image: Option<String>,
    id: Option<u64>,
    product: Option<String>,
    k: Option<usize>,
    offset: Option<usize>,
    filter: Option<Value>,
    min_similarity: Option<f64>,
    ef: Option<usize>,
    explain: Option<ExplainOptions>,
    group_by: Option<String>,
    crop: Option<Vec<f64>>,
    auto_crop: Option<bool>,
}

/// Adds where the answer came from, when it matters: `partial` and `missing_shards` when a
/// shard did not answer (`--partial-ok`), and `replica` (`lag_seconds`, `lag_bytes`) when the
/// search read a standby (`serve --read-url`), whose lag also goes to the metrics.
pub(crate) fn served_by(state: &AppState, name: &str, from: &Provenance, answer: &mut Value) {
    answer["partial"] = json!(from.partial());
    if from.partial() {
        answer["missing_shards"] = json!(from.missing_shards);
    }
    if let Some(lag) = from.replica_lag {
        state.metrics.observe_lag(name, lag);
        answer["replica"] = json!({"lag_seconds": lag.seconds, "lag_bytes": lag.bytes});
    }
}

/// A search as asked, before checking.
struct Asked {
    source: Source,
    k: usize,
    offset: usize,
    filter: Filter,
    group_by: Option<String>,
    crop: Crop,
    min_similarity: f64,
    ef: Option<usize>,
    explain: Option<ExplainOptions>,
}

fn asked(body: Body) -> Result<Asked, ApiError> {
    match body {
        Body::Json(value) => {
            let j: SearchJson = body::parse(value)?;
            Ok(Asked {
                source: match j.product {
                    Some(p) if j.image.is_none() && j.id.is_none() => Source::Product(p),
                    Some(_) => {
                        return Err(ApiError::bad_request(
                            "give exactly one query: `image` (base64), `id` or `product`",
                        ))
                    }
                    None => Source::from_json(j.image, j.id)?,
                },
                k: j.k.unwrap_or(10),
                offset: j.offset.unwrap_or(0),
                filter: to_filter(j.filter.as_ref())?,
                group_by: j.group_by,
                crop: crop_of(j.crop.as_deref(), j.auto_crop.unwrap_or(false))?,
                min_similarity: j.min_similarity.unwrap_or(0.0),
                ef: j.ef,
                explain: j.explain,
            })
        }
        Body::Form(mut form) => {
            let filter = match form.text("filter") {
                None => Filter::none(),
                Some(text) => match serde_json::from_str::<Value>(text) {
                    Ok(v @ (Value::Object(_) | Value::Array(_) | Value::String(_))) => {
                        to_filter(Some(&v))?
                    }
                    // A bare condition, not JSON: `price<50`.
                    _ => to_filter(Some(&Value::String(text.to_string())))?,
                },
            };
            let group_by = form.text("group_by").map(str::to_string);
            let crop = match form.text("crop") {
                Some(text) => Some(
                    text.split(',')
                        .map(|v| v.trim().parse::<f64>())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|_| {
                            ApiError::bad_request(
                                "the form field \"crop\" is x,y,w,h: four numbers",
                            )
                        })?,
                ),
                None => None,
            };
            let crop = crop_of(crop.as_deref(), form.text("auto_crop") == Some("true"))?;
            let explain = match form.text("method") {
                Some(_) => Some(ExplainOptions::from_form(&form)?),
                None => None,
            };
            Ok(Asked {
                k: form.number("k")?.unwrap_or(10),
                offset: form.number("offset")?.unwrap_or(0),
                min_similarity: form.number("min_similarity")?.unwrap_or(0.0),
                ef: form.number("ef")?,
                filter,
                group_by,
                crop,
                explain,
                source: Source::from_form(&mut form)?,
            })
        }
    }
}

/// The API's `crop` and `auto_crop`: at most one.
fn crop_of(crop: Option<&[f64]>, auto: bool) -> Result<Crop, ApiError> {
    match (crop, auto) {
        (Some(_), true) => Err(ApiError::bad_request("give crop or auto_crop, not both")),
        (Some(v), false) => Ok(Crop::Box(
            Region::from_slice(v).map_err(ApiError::bad_request)?,
        )),
        (None, true) => Ok(Crop::Auto),
        (None, false) => Ok(Crop::Whole),
    }
}

/// The API's `filter`: a condition in the grammar (`"price<50"`), a list of them (all must
/// hold), or an object of equalities (`{"label": "bag"}`, an array value meaning "one of").
pub fn to_filter(filter: Option<&Value>) -> Result<Filter, ApiError> {
    let bad = |why: String| ApiError::bad_request(why);
    match filter {
        None | Some(Value::Null) => Ok(Filter::none()),
        Some(Value::String(s)) => Filter::parse(&[s]).map_err(bad),
        Some(Value::Array(items)) => {
            let texts = items
                .iter()
                .map(|v| {
                    v.as_str().ok_or_else(|| {
                        bad(format!(
                            "filter: a list holds conditions as strings (\"price<50\"), not {v}"
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Filter::parse(&texts).map_err(bad)
        }
        Some(Value::Object(map)) => object_filter(map),
        Some(other) => Err(bad(format!(
            "filter: expected a condition (\"price<50\"), a list of them, or an object of \
             equalities, not {other}"
        ))),
    }
}

/// `{"label": "bag", "colour": ["red", "blue"]}` as equalities and sets.
fn object_filter(map: &Metadata) -> Result<Filter, ApiError> {
    let text = |key: &str, value: &Value| {
        lookalike_index::scalar_text(value).ok_or_else(|| {
            ApiError::bad_request(format!(
                "filter {key:?}: expected a string, number or boolean (or a list of them), not \
                 {value}"
            ))
        })
    };
    let mut filter = Filter::none();
    for (key, value) in map {
        filter = filter.and(match value {
            Value::Array(items) if !items.is_empty() => Condition::In {
                key: key.clone(),
                values: items
                    .iter()
                    .map(|v| text(key, v))
                    .collect::<Result<_, _>>()?,
            },
            v => Condition::Equals {
                key: key.clone(),
                value: text(key, v)?,
            },
        });
    }
    Ok(filter)
}

/// `POST /api/collections/{name}/search`
pub async fn search(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check(&req, &state.config, Access::Read)?;
    let collection = state.collection(&name)?;
    let started = Instant::now();
    let mut a = asked(body::read(&req, payload, state.config.max_upload_bytes).await?)?;
    // A product as the query: its first image, its own images left out like the image itself.
    if let Source::Product(product) = &a.source {
        let first = collection.product_ids(product).await?.first().copied();
        a.source =
            Source::Stored(first.ok_or_else(|| super::products::unknown_product(&name, product))?);
    }
    if a.k == 0 || a.k > MAX_K {
        return Err(ApiError::bad_request(format!(
            "k must be between 1 and {MAX_K}, got {}",
            a.k
        )));
    }
    if a.offset > 100_000 {
        return Err(ApiError::bad_request("offset must be at most 100000"));
    }
    if a.ef.is_some_and(|ef| ef == 0 || ef > MAX_EF) {
        return Err(ApiError::bad_request(format!(
            "ef must be between 1 and {MAX_EF}"
        )));
    }
    if !(0.0..=1.0).contains(&a.min_similarity) {
        return Err(ApiError::bad_request(format!(
            "min_similarity must be between 0 and 1, got {}",
            a.min_similarity
        )));
    }
    let method = match &a.explain {
        Some(_) if a.k > MAX_EXPLAINED => {
            return Err(ApiError::bad_request(format!(
                "at most {MAX_EXPLAINED} hits can be explained in one search; ask for a smaller k"
            )));
        }
        Some(options) => Some(options.check(&state, &collection)?),
        None => None,
    };
    let request = SearchRequest {
        k: a.k,
        offset: a.offset,
        filter: a.filter.clone(),
        ef: a.ef,
    };
    if let Some(key) = &a.group_by {
        if method.is_some() {
            return Err(ApiError::bad_request(
                "a grouped search cannot explain its hits; search without group_by to explain",
            ));
        }
        let groups = super::products::search_groups(
            &state,
            &collection,
            &name,
            super::products::GroupedSearch {
                source: a.source,
                crop: a.crop,
                request: &request,
                group_by: key,
                min_similarity: a.min_similarity,
            },
        )
        .await?;
        let mut groups = groups;
        groups["took_ms"] = json!(started.elapsed().as_secs_f64() * 1000.0);
        return Ok(HttpResponse::Ok().json(groups));
    }
    let mut used = None;
    let (query, found) = match a.source {
        Source::Stored(id) if a.crop == Crop::Whole => {
            let found = collection
                .search_like(id, &request)
                .await?
                .ok_or_else(|| ApiError::unknown_image(&name, id))?;
            // The query's pixels are needed only to explain.
            let query = match method {
                Some(_) => Some(
                    load(&state, &collection, &name, Source::Stored(id), false)
                        .await?
                        .0,
                ),
                None => None,
            };
            (query, found)
        }
        source => {
            let (query, vector, cut) =
                load_cropped(&state, &collection, &name, source, true, a.crop).await?;
            used = cut;
            let vector = vector.ok_or_else(|| ApiError::internal("no query vector"))?;
            (
                Some(query),
                collection.search_vector(vector, &request).await?,
            )
        }
    };
    let novelty = found.novelty;
    let provenance = found.provenance;
    let hits: Vec<_> = found
        .hits
        .into_iter()
        .filter(|h| h.similarity >= a.min_similarity)
        .collect();
    let explanations = match (method, query) {
        (Some(method), Some(query)) if !hits.is_empty() => {
            let asked: Vec<_> = hits
                .iter()
                .map(|h| (h.id, h.path.as_str(), &h.metadata))
                .collect();
            let files = collection.sources_of(&asked).await?;
            let (state2, collection) = (state.clone(), collection.clone());
            let method_label = method.name.clone();
            let views: Vec<crate::explanation::ExplanationView> = state
                .run(Job::Heavy, move || {
                    let explainer = state2.registry.get(&method.name)?;
                    let explained = collection.explain_hits(
                        &query,
                        &files,
                        explainer,
                        method.layer,
                        &method.options,
                        false,
                    )?;
                    explained.iter().map(|e| view(&query.crop, e)).collect()
                })
                .await?;
            state
                .metrics
                .explanations
                .with_label_values(&[&method_label])
                .inc_by(hits.len() as u64);
            views
        }
        _ => Vec::new(),
    };
    let mut out = Vec::with_capacity(hits.len());
    for (i, h) in hits.iter().enumerate() {
        let mut hit = image_view(&name, h.id, &h.metadata);
        hit["score"] = json!(h.score);
        hit["similarity"] = json!(h.similarity);
        hit["logit"] = json!(h.logit);
        hit["same"] = json!(h.same);
        if let Some(e) = explanations.get(i) {
            hit["explanation"] = serde_json::to_value(e).map_err(ApiError::internal)?;
        }
        out.push(hit);
    }
    let mut answer = json!({
        "hits": out,
        "out_of_catalogue": novelty.is_some_and(|n| n.out_of_catalogue),
        "novelty": novelty,
        "threshold": collection.models().facts().threshold,
        "crop": used,
        "took_ms": started.elapsed().as_secs_f64() * 1000.0,
    });
    served_by(&state, &name, &provenance, &mut answer);
    Ok(HttpResponse::Ok().json(answer))
}
