//! Metadata filters: `key=value` conditions that must all hold.

use serde_json::Value;

use crate::Metadata;

/// All conditions must hold. A condition `key=value` holds when the metadata's `key` is a
/// scalar whose text is `value` (`"rose"`, `3`, `true`), or an array holding such a scalar.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Filter {
    /// `(key, value)` pairs.
    pub equals: Vec<(String, String)>,
}

impl Filter {
    /// No condition: everything matches.
    pub fn none() -> Self {
        Filter::default()
    }

    /// Parses `key=value` strings, as the CLI's `--filter` takes them.
    pub fn parse<S: AsRef<str>>(conditions: &[S]) -> Result<Self, String> {
        let mut equals = Vec::new();
        for c in conditions {
            let c = c.as_ref();
            match c.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    equals.push((k.trim().to_string(), v.to_string()))
                }
                _ => return Err(format!("bad filter {c:?}: expected key=value")),
            }
        }
        Ok(Filter { equals })
    }

    /// Whether there is no condition.
    pub fn is_empty(&self) -> bool {
        self.equals.is_empty()
    }

    /// Whether `metadata` satisfies every condition.
    pub fn matches(&self, metadata: &Metadata) -> bool {
        self.equals.iter().all(|(k, v)| match metadata.get(k) {
            Some(Value::Array(items)) => items
                .iter()
                .any(|item| scalar_text(item).as_deref() == Some(v)),
            Some(value) => scalar_text(value).as_deref() == Some(v.as_str()),
            None => false,
        })
    }
}

/// The text a scalar is matched by; `None` for null, arrays and objects.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Every `(key, text)` pair that a filter can match in `metadata` (for secondary indexes).
pub fn indexable_pairs(metadata: &Metadata) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (k, v) in metadata {
        match v {
            Value::Array(items) => {
                pairs.extend(items.iter().filter_map(scalar_text).map(|t| (k.clone(), t)))
            }
            other => pairs.extend(scalar_text(other).map(|t| (k.clone(), t))),
        }
    }
    pairs.sort();
    pairs.dedup();
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(v: Value) -> Metadata {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn conditions_all_hold() {
        let m = meta(json!({"label": "rose", "size": 3, "tags": ["red", "big"], "ok": true}));
        let f = |s: &[&str]| Filter::parse(s).unwrap().matches(&m);
        assert!(f(&[]));
        assert!(f(&["label=rose"]));
        assert!(f(&["label=rose", "size=3", "tags=big", "ok=true"]));
        assert!(!f(&["label=tulip"]));
        assert!(!f(&["label=rose", "size=4"]));
        assert!(!f(&["colour=red"]));
        assert!(Filter::parse(&["novalue"]).is_err());
        assert!(Filter::parse(&["=x"]).is_err());
        assert_eq!(Filter::parse(&["a=b=c"]).unwrap().equals[0].1, "b=c");
    }

    #[test]
    fn indexable_pairs_cover_matches() {
        let m =
            meta(json!({"label": "rose", "tags": ["a", "b"], "nested": {"x": 1}, "none": null}));
        let pairs = indexable_pairs(&m);
        assert_eq!(pairs.len(), 3);
        assert!(pairs.contains(&("tags".into(), "b".into())));
    }
}
