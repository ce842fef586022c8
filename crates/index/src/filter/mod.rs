//! Metadata filters: conditions that must all hold, in one grammar for the CLI, the API and
//! every store (`parse.rs` reads it; `matches` here is the exact answer the stores agree with).
//!
//! | written | condition |
//! |---|---|
//! | `label=bag` (or `==`) | equality: the value's text is `bag` (a string, number or boolean) |
//! | `colour in (red, blue)` | one of a set (`[…]` works too) |
//! | `price<50`, `price>=20`, `20<=price<=80` | a numeric range (JSON numbers only) |
//! | `in_stock`, `in_stock=false` | booleans (`KEY` alone means `KEY=true`) |
//! | `brand exists` | the key is present |
//! | `not COND`, `!COND`, `label!=bag`, `colour not in (…)` | negation |
//!
//! A key holding an array matches when any of its items does. A negation holds exactly where
//! its condition does not, so `label!=bag` also keeps images without a label.

mod parse;

use serde_json::Value;

use crate::Metadata;

/// All conditions must hold (none: everything matches).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// The conditions, all of which must hold.
    pub conditions: Vec<Condition>,
}

/// One bound of a numeric range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    /// The number (finite).
    pub value: f64,
    /// Whether the bound itself is in the range (`<=`, `>=`).
    pub inclusive: bool,
}

/// One condition on the metadata.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The key's value (or an item of its array) is a scalar whose text is `value`.
    Equals {
        /// The metadata key.
        key: String,
        /// The text to match (`"rose"`, `"3"`, `"true"`).
        value: String,
    },
    /// Like [`Condition::Equals`] for any of `values`.
    In {
        /// The metadata key.
        key: String,
        /// The texts, any of which may match.
        values: Vec<String>,
    },
    /// The key's value (or an item of its array) is a JSON number within the bounds.
    Range {
        /// The metadata key.
        key: String,
        /// The lower bound, if any.
        min: Option<Bound>,
        /// The upper bound, if any.
        max: Option<Bound>,
    },
    /// The key is present.
    Exists {
        /// The metadata key.
        key: String,
    },
    /// The condition does not hold.
    Not(Box<Condition>),
}

impl Condition {
    /// The key the condition is about.
    pub fn key(&self) -> &str {
        match self {
            Condition::Equals { key, .. }
            | Condition::In { key, .. }
            | Condition::Range { key, .. }
            | Condition::Exists { key } => key,
            Condition::Not(inner) => inner.key(),
        }
    }

    /// Whether `metadata` satisfies the condition.
    pub fn matches(&self, metadata: &Metadata) -> bool {
        match self {
            Condition::Equals { key, value } => any_item(metadata.get(key), |v| {
                scalar_text(v).as_deref() == Some(value.as_str())
            }),
            Condition::In { key, values } => any_item(metadata.get(key), |v| {
                scalar_text(v).is_some_and(|t| values.contains(&t))
            }),
            Condition::Range { key, min, max } => any_item(metadata.get(key), |v| {
                v.as_f64().is_some_and(|x| within(x, *min, *max))
            }),
            Condition::Exists { key } => metadata.contains_key(key),
            Condition::Not(inner) => !inner.matches(metadata),
        }
    }

    /// The `(key, text)` pairs one of which a matching point must have in
    /// [`indexable_pairs`], when the condition can be answered from such an index.
    pub fn index_pairs(&self) -> Option<Vec<(String, String)>> {
        match self {
            Condition::Equals { key, value } => Some(vec![(key.clone(), value.clone())]),
            Condition::In { key, values } => Some(
                values
                    .iter()
                    .map(|v| (key.clone(), v.clone()))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        }
    }
}

/// Whether `x` lies within the bounds.
fn within(x: f64, min: Option<Bound>, max: Option<Bound>) -> bool {
    let above = min.is_none_or(|b| {
        if b.inclusive {
            x >= b.value
        } else {
            x > b.value
        }
    });
    let below = max.is_none_or(|b| {
        if b.inclusive {
            x <= b.value
        } else {
            x < b.value
        }
    });
    above && below
}

/// Whether the value, or any item of it when it is an array, satisfies `test`.
fn any_item(value: Option<&Value>, test: impl Fn(&Value) -> bool) -> bool {
    match value {
        Some(Value::Array(items)) => items.iter().any(test),
        Some(v) => test(v),
        None => false,
    }
}

impl Filter {
    /// No condition: everything matches.
    pub fn none() -> Self {
        Filter::default()
    }

    /// One equality, `key=value`.
    pub fn equal(key: &str, value: &str) -> Self {
        Filter {
            conditions: vec![Condition::Equals {
                key: key.into(),
                value: value.into(),
            }],
        }
    }

    /// Parses conditions in the grammar above, one per string (as the CLI's repeatable
    /// `--filter` and the API's list take them); all must hold. The error names the condition
    /// and what is wrong with it.
    pub fn parse<S: AsRef<str>>(conditions: &[S]) -> Result<Self, String> {
        let conditions = conditions
            .iter()
            .map(|c| parse::condition(c.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Filter { conditions })
    }

    /// This filter and `condition` too.
    pub fn and(mut self, condition: Condition) -> Self {
        self.conditions.push(condition);
        self
    }

    /// Whether there is no condition.
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }

    /// Whether `metadata` satisfies every condition.
    pub fn matches(&self, metadata: &Metadata) -> bool {
        self.conditions.iter().all(|c| c.matches(metadata))
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
        assert!(Filter::parse(&["=x"]).is_err());
        assert_eq!(
            Filter::parse(&["a=b=c"]).unwrap().conditions[0],
            Condition::Equals {
                key: "a".into(),
                value: "b=c".into()
            }
        );
    }

    #[test]
    fn every_operator_matches_as_documented() {
        let m = meta(json!({
            "label": "rose", "price": 12.5, "stock": 0, "sizes": [38, 40],
            "on_sale": true, "used": false, "note": null, "code": "12"
        }));
        let f = |s: &str| Filter::parse(&[s]).unwrap().matches(&m);
        // Sets.
        assert!(f("label in (tulip, rose)"));
        assert!(f("label in [\"rose\"]"));
        assert!(!f("label in (tulip)"));
        assert!(f("sizes in (40, 41)"));
        assert!(f("label not in (tulip)"));
        // Ranges: numbers only, bounds as written, either side.
        assert!(f("price<50"));
        assert!(!f("price<12.5"));
        assert!(f("price<=12.5"));
        assert!(f("10<=price<=20"));
        assert!(f("20>price>10"));
        assert!(!f("13<price"));
        assert!(f("price>=-1e3"));
        assert!(f("sizes>39"));
        assert!(!f("code<100"), "a string is not a number");
        assert!(!f("label<5"));
        assert!(!f("missing<5"));
        // Booleans.
        assert!(f("on_sale"));
        assert!(!f("used"));
        assert!(f("used=false"));
        assert!(f("!used"));
        // Exists, negation.
        assert!(f("label exists"));
        assert!(f("note exists"));
        assert!(!f("brand exists"));
        assert!(f("not brand exists"));
        assert!(f("label!=tulip"));
        assert!(f("brand!=x"), "a negation keeps images without the key");
        assert!(!f("not label=rose"));
        assert!(f("!price>20"));
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
