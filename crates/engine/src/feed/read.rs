//! Reading a product feed (CSV, TSV or JSON Lines) into rows, with Google Merchant Center's
//! columns understood as they are: `id` is the product, `image_link` and
//! `additional_image_link` (comma-separated) its photos, `price` (`12.99 EUR`) a number and a
//! currency. Every other column becomes metadata; in CSV, numbers become numbers and
//! `true`/`false` booleans. A row that cannot be used is an error with its line; the others
//! still come.

use std::path::Path;

use lookalike_index::Metadata;
use serde_json::{json, Value};

use crate::collection::RESERVED_KEYS;

/// A feed's format, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedFormat {
    /// Comma-separated, with a header line.
    Csv,
    /// Tab-separated, with a header line (Merchant Center's text feeds).
    Tsv,
    /// One JSON object per line.
    JsonLines,
}

impl FeedFormat {
    /// `.csv`, `.tsv`/`.txt` or `.jsonl`/`.ndjson`.
    pub fn of(path: &Path) -> Result<Self, String> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        Self::parse(&ext).ok_or_else(|| {
            format!(
                "{}: a feed is .csv, .tsv or .jsonl (Merchant Center columns)",
                path.display()
            )
        })
    }

    /// `csv`, `tsv`/`txt`, `jsonl`/`ndjson`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "csv" => Some(FeedFormat::Csv),
            "tsv" | "txt" => Some(FeedFormat::Tsv),
            "jsonl" | "ndjson" => Some(FeedFormat::JsonLines),
            _ => None,
        }
    }
}

/// One usable row: a product, its image references (the main one first) and its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedRow {
    /// The line it starts on (1 is the first line of the file).
    pub line: usize,
    /// The product id (`id`).
    pub product: String,
    /// `image_link`, then each `additional_image_link`.
    pub images: Vec<String>,
    /// Everything else: `title`, `brand`, `price` (a number), `currency`, ...
    pub metadata: Metadata,
}

/// A row that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    /// Its line.
    pub line: usize,
    /// Its product id, when it has one.
    pub product: Option<String>,
    /// Why.
    pub reason: String,
}

/// Reads a whole feed: the usable rows and the row errors, in line order. A header that cannot
/// be used (no `id` or `image_link` column, a reserved column) is an error for the whole feed.
pub fn read_feed(text: &str, format: FeedFormat) -> Result<(Vec<FeedRow>, Vec<RowError>), String> {
    let records = match format {
        FeedFormat::JsonLines => json_records(text),
        FeedFormat::Csv => delimited_records(text, b',')?,
        FeedFormat::Tsv => delimited_records(text, b'\t')?,
    };
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (line, record) in records {
        let row = record.and_then(|fields| row_of(line, fields));
        match row {
            Ok(row) => match seen.get(&row.product) {
                Some(first) => errors.push(RowError {
                    line,
                    product: Some(row.product.clone()),
                    reason: format!("product {:?} is already on line {first}", row.product),
                }),
                None => {
                    seen.insert(row.product.clone(), line);
                    rows.push(row);
                }
            },
            Err((product, reason)) => errors.push(RowError {
                line,
                product,
                reason,
            }),
        }
    }
    Ok((rows, errors))
}

type Record = Result<Vec<(String, Value)>, (Option<String>, String)>;

/// JSON Lines: every non-blank line an object.
fn json_records(text: &str) -> Vec<(usize, Record)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let record = match serde_json::from_str::<Value>(l) {
                Ok(Value::Object(m)) => Ok(m.into_iter().collect()),
                Ok(other) => Err((None, format!("expected a JSON object, not {other}"))),
                Err(e) => Err((None, format!("not JSON: {e}"))),
            };
            (i + 1, record)
        })
        .collect()
}

/// CSV or TSV with a header line; cells typed by [`typed`].
fn delimited_records(text: &str, delimiter: u8) -> Result<Vec<(usize, Record)>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("the header line: {e}"))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    for needed in ["id", "image_link"] {
        if !header.iter().any(|h| h == needed) {
            return Err(format!(
                "the header line has no {needed:?} column (a Merchant Center feed has id, \
                 image_link, additional_image_link, price, ...)"
            ));
        }
    }
    check_columns(header.iter().map(String::as_str))?;
    let mut out = Vec::new();
    for record in reader.records() {
        match record {
            Ok(r) => {
                let line = r.position().map(|p| p.line() as usize).unwrap_or_default();
                if r.iter().all(|c| c.trim().is_empty()) {
                    continue;
                }
                let record = if r.len() != header.len() {
                    Err((
                        None,
                        format!("{} fields where the header has {}", r.len(), header.len()),
                    ))
                } else {
                    Ok(header
                        .iter()
                        .zip(r.iter())
                        .filter(|(_, cell)| !cell.trim().is_empty())
                        .map(|(h, cell)| (h.clone(), typed(h, cell.trim())))
                        .collect())
                };
                out.push((line, record));
            }
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize).unwrap_or_default();
                out.push((line, Err((None, format!("not CSV: {e}")))));
            }
        }
    }
    Ok(out)
}

/// Refuses a column the collection writes itself, or `product` (the feed's product is `id`).
fn check_columns<'a>(columns: impl Iterator<Item = &'a str>) -> Result<(), String> {
    for c in columns {
        if RESERVED_KEYS.contains(&c) || c == crate::collection::PRODUCT_KEY || c == FEED_HASH {
            return Err(format!(
                "the column {c:?} is reserved: the collection sets {}, product and {FEED_HASH} \
                 itself (the product is the id column)",
                RESERVED_KEYS.join(", ")
            ));
        }
    }
    Ok(())
}

/// The metadata key holding the hash of a product's feed row, by which a re-import sees an
/// unchanged row.
pub const FEED_HASH: &str = "feed_hash";

/// A CSV cell as JSON: `true`/`false` booleans, plain decimal numbers numbers (not `007`, which
/// stays text), the rest text. `id` and the image links always stay text.
fn typed(column: &str, cell: &str) -> Value {
    if matches!(
        column,
        "id" | "image_link" | "additional_image_link" | "price"
    ) {
        return json!(cell);
    }
    match cell {
        "true" => return json!(true),
        "false" => return json!(false),
        _ => {}
    }
    if plain_number(cell) {
        if let Ok(n) = cell.parse::<i64>() {
            return json!(n);
        }
        if let Some(n) = cell
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
        {
            return Value::Number(n);
        }
    }
    json!(cell)
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?`
fn plain_number(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let int_ok = int == "0"
        || (!int.is_empty() && !int.starts_with('0') && int.bytes().all(|b| b.is_ascii_digit()));
    int_ok && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// `12.99 EUR` (or `12.99`, or a JSON number) as the price and, if given, its currency.
fn price_of(value: &Value) -> Result<(f64, Option<String>), String> {
    let bad = || format!("price {value}: expected a number and a currency, e.g. 12.99 EUR");
    match value {
        Value::Number(n) => n.as_f64().map(|p| (p, None)).ok_or_else(bad),
        Value::String(s) => {
            let mut parts = s.split_whitespace();
            let amount = parts.next().ok_or_else(bad)?;
            let currency = parts.next();
            if parts.next().is_some() {
                return Err(bad());
            }
            let amount: f64 = amount
                .parse()
                .ok()
                .filter(|p: &f64| p.is_finite() && *p >= 0.0)
                .ok_or_else(bad)?;
            match currency {
                Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
                    Ok((amount, Some(c.to_ascii_uppercase())))
                }
                Some(_) => Err(bad()),
                None => Ok((amount, None)),
            }
        }
        _ => Err(bad()),
    }
}

/// The image links of a cell: one, a comma-separated list, or a JSON list.
fn links_of(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::String(s) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("an image link must be text, not {v}"))
            })
            .collect(),
        other => Err(format!("an image link must be text, not {other}")),
    }
}

/// One record as a row.
fn row_of(line: usize, fields: Vec<(String, Value)>) -> Result<FeedRow, (Option<String>, String)> {
    let mut product = None;
    let mut images = Vec::new();
    let mut additional = Vec::new();
    let mut metadata = Metadata::new();
    let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    check_columns(keys.into_iter()).map_err(|e| (None, e))?;
    for (key, value) in fields {
        match key.as_str() {
            "id" => {
                product = match &value {
                    Value::String(s) => Some(s.trim().to_string()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                }
            }
            "image_link" => images = links_of(&value).map_err(|e| (product.clone(), e))?,
            "additional_image_link" => {
                additional = links_of(&value).map_err(|e| (product.clone(), e))?
            }
            "price" => {
                let (price, currency) = price_of(&value).map_err(|e| (product.clone(), e))?;
                metadata.insert("price".into(), json!(price));
                if let Some(c) = currency {
                    metadata.insert("currency".into(), json!(c));
                }
            }
            _ if value.is_null() => {}
            _ => {
                metadata.insert(key, value);
            }
        }
    }
    let product = product
        .filter(|p| !p.is_empty() && p.len() <= 256)
        .ok_or((None, "no id (the product id, 1 to 256 bytes)".to_string()))?;
    if images.len() != 1 {
        return Err((
            Some(product),
            "image_link must hold one image (more go in additional_image_link)".into(),
        ));
    }
    images.extend(additional);
    let mut seen = std::collections::HashSet::new();
    images.retain(|l| seen.insert(l.clone()));
    Ok(FeedRow {
        line,
        product,
        images,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merchant_center_columns() {
        let csv = "id,title,image_link,additional_image_link,price,availability,brand,product_type,stock,on_sale,gtin\n\
                   A1,Red bag,a1.png,\"a1b.png, a1c.png\",12.99 EUR,in stock,Acme,Bags > Totes,3,true,0012\n\
                   A2,Blue bag,a2.png,,5 usd,out of stock,Acme,Bags,0,false,12\n\
                   ,No id,x.png,,1 EUR,,,,,,\n\
                   A3,Bad price,a3.png,,twelve,,,,,,\n\
                   A1,Twice,a1.png,,1 EUR,,,,,,\n\
                   A4,Short\n";
        let (rows, errors) = read_feed(csv, FeedFormat::Csv).unwrap();
        assert_eq!(rows.len(), 2);
        let a1 = &rows[0];
        assert_eq!((a1.line, a1.product.as_str()), (2, "A1"));
        assert_eq!(a1.images, ["a1.png", "a1b.png", "a1c.png"]);
        assert_eq!(a1.metadata["price"], json!(12.99));
        assert_eq!(a1.metadata["currency"], "EUR");
        assert_eq!(a1.metadata["stock"], 3);
        assert_eq!(a1.metadata["on_sale"], true);
        assert_eq!(a1.metadata["gtin"], "0012", "a leading zero stays text");
        assert_eq!(a1.metadata["product_type"], "Bags > Totes");
        assert_eq!(rows[1].metadata["currency"], "USD");
        assert!(rows[1].metadata.get("additional_image_link").is_none());
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [4, 5, 6, 7]);
        assert!(errors[0].reason.contains("no id"));
        assert!(errors[1].reason.contains("price"), "{:?}", errors[1]);
        assert!(errors[2].reason.contains("already on line 2"));
        assert!(errors[3].reason.contains("fields"));
    }

    #[test]
    fn json_lines_keep_their_types() {
        let jsonl = "{\"id\": 7, \"image_link\": \"7.png\", \"additional_image_link\": [\"7b.png\"], \"price\": \"3.5 EUR\", \"size\": [38, 40]}\n\
                     \n\
                     not json\n\
                     {\"id\": \"8\", \"image_link\": \"8.png\", \"sha256\": \"x\"}\n";
        let (rows, errors) = read_feed(jsonl, FeedFormat::JsonLines).unwrap();
        assert_eq!(rows[0].product, "7");
        assert_eq!(rows[0].images, ["7.png", "7b.png"]);
        assert_eq!(rows[0].metadata["size"], json!([38, 40]));
        assert_eq!(errors[0].line, 3);
        assert!(errors[1].reason.contains("reserved"));
    }

    #[test]
    fn bad_headers_stop_the_feed() {
        assert!(read_feed("title,image_link\nx,y\n", FeedFormat::Csv)
            .unwrap_err()
            .contains("\"id\""));
        assert!(read_feed("id,image_link,path\n", FeedFormat::Csv)
            .unwrap_err()
            .contains("reserved"));
        let (rows, _) = read_feed("id\timage_link\nZ\tz.png\n", FeedFormat::Tsv).unwrap();
        assert_eq!(rows[0].images, ["z.png"]);
    }
}
