//! The filter grammar (see the table in `filter/mod.rs`): one condition per string.

use super::{Bound, Condition};

/// Parses one condition; the error quotes it and says what was expected.
pub(super) fn condition(text: &str) -> Result<Condition, String> {
    parse(text.trim()).map_err(|why| format!("bad filter {text:?}: {why}"))
}

const EXPECTED: &str = "expected KEY=VALUE, KEY!=VALUE, KEY in (A, B), KEY<N, A<=KEY<=B, KEY, \
                        KEY exists, or not CONDITION";

fn parse(s: &str) -> Result<Condition, String> {
    if s.is_empty() {
        return Err(format!("empty condition; {EXPECTED}"));
    }
    // Negation: `not COND` or `!COND` (but `KEY!=VALUE` is an inequality).
    if let Some(rest) = strip_word(s, "not") {
        return Ok(Condition::Not(Box::new(parse(rest)?)));
    }
    if let Some(rest) = s.strip_prefix('!') {
        return Ok(Condition::Not(Box::new(parse(rest.trim_start())?)));
    }
    // `KEY exists`.
    if let Some(key) = strip_suffix_word(s, "exists") {
        return Ok(Condition::Exists { key: key_of(key)? });
    }
    // `KEY in (…)`, `KEY not in (…)`.
    if let Some((key, negated, set)) = split_in(s) {
        let values = set_of(set)?;
        let c = Condition::In {
            key: key_of(key)?,
            values,
        };
        return Ok(if negated {
            Condition::Not(Box::new(c))
        } else {
            c
        });
    }
    match s.find(['<', '>', '=', '!']) {
        None => Ok(Condition::Equals {
            key: key_of(s)?,
            value: "true".into(),
        }),
        Some(i) if s[i..].starts_with('<') || s[i..].starts_with('>') => range(s),
        Some(i) if s[i..].starts_with("!=") => Ok(Condition::Not(Box::new(Condition::Equals {
            key: key_of(&s[..i])?,
            value: unquote(&s[i + 2..]),
        }))),
        Some(i) if s[i..].starts_with('=') => {
            let rest = &s[i + 1..];
            let rest = rest.strip_prefix('=').unwrap_or(rest);
            Ok(Condition::Equals {
                key: key_of(&s[..i])?,
                value: unquote(rest),
            })
        }
        Some(_) => Err(EXPECTED.into()),
    }
}

/// `rest` when `s` is `word` followed by whitespace and more (case-insensitive).
fn strip_word<'a>(s: &'a str, word: &str) -> Option<&'a str> {
    let head = s.get(..word.len())?;
    let rest = &s[word.len()..];
    (head.eq_ignore_ascii_case(word) && rest.starts_with(char::is_whitespace))
        .then(|| rest.trim_start())
}

/// What comes before ` word` at the end of `s` (case-insensitive).
fn strip_suffix_word<'a>(s: &'a str, word: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(word.len())?;
    let (head, tail) = (s.get(..cut)?, &s[cut..]);
    (tail.eq_ignore_ascii_case(word) && head.ends_with(char::is_whitespace))
        .then(|| head.trim_end())
}

/// `(key, negated, set)` of `KEY in SET` or `KEY not in SET`.
fn split_in(s: &str) -> Option<(&str, bool, &str)> {
    let lower = s.to_ascii_lowercase();
    let open = s.find(['(', '['])?;
    let head = &lower[..open];
    for (pattern, negated) in [(" not in ", true), (" in ", false)] {
        let padded = format!("{head} ");
        if let Some(at) = padded.find(pattern) {
            if padded[at + pattern.len()..].trim().is_empty() {
                return Some((&s[..at], negated, &s[open..]));
            }
        }
    }
    None
}

/// The values of `(a, b)` or `[a, b]`, each trimmed and unquoted.
fn set_of(set: &str) -> Result<Vec<String>, String> {
    let set = set.trim();
    let inner = set
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .or_else(|| set.strip_prefix('[').and_then(|s| s.strip_suffix(']')))
        .ok_or("a set is written (A, B, C) or [A, B, C]")?;
    let values: Vec<String> = inner
        .split(',')
        .map(unquote)
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() {
        return Err("an empty set matches nothing; give at least one value".into());
    }
    Ok(values)
}

/// A range: `KEY OP N`, `N OP KEY` or `A OP KEY OP B`, with `<`, `<=`, `>`, `>=`.
fn range(s: &str) -> Result<Condition, String> {
    let mut parts = Vec::new();
    let mut ops = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(['<', '>']) {
        parts.push(rest[..i].trim());
        let inclusive = rest[i + 1..].starts_with('=');
        ops.push((rest.as_bytes()[i] == b'<', inclusive));
        rest = &rest[i + 1 + usize::from(inclusive)..];
    }
    parts.push(rest.trim());
    if parts.iter().any(|p| p.contains(['=', '!'])) {
        return Err(EXPECTED.into());
    }
    let bound = |text: &str| -> Result<f64, String> {
        text.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("{text:?} is not a finite number"))
    };
    match (parts.as_slice(), ops.as_slice()) {
        ([l, r], [(less, inclusive)]) => {
            let inclusive = *inclusive;
            if l.parse::<f64>().is_ok() {
                // N OP KEY: `20<price` is `price>20`.
                let b = Some(Bound {
                    value: bound(l)?,
                    inclusive,
                });
                let key = key_of(r)?;
                Ok(if *less {
                    Condition::Range {
                        key,
                        min: b,
                        max: None,
                    }
                } else {
                    Condition::Range {
                        key,
                        min: None,
                        max: b,
                    }
                })
            } else {
                let b = Some(Bound {
                    value: bound(r)?,
                    inclusive,
                });
                let key = key_of(l)?;
                Ok(if *less {
                    Condition::Range {
                        key,
                        min: None,
                        max: b,
                    }
                } else {
                    Condition::Range {
                        key,
                        min: b,
                        max: None,
                    }
                })
            }
        }
        ([a, key, b], [(less1, inc1), (less2, inc2)]) if less1 == less2 => {
            let (a, b) = (bound(a)?, bound(b)?);
            let low = |v, inclusive| {
                Some(Bound {
                    value: v,
                    inclusive,
                })
            };
            let (min, max) = if *less1 {
                (low(a, *inc1), low(b, *inc2))
            } else {
                (low(b, *inc2), low(a, *inc1))
            };
            Ok(Condition::Range {
                key: key_of(key)?,
                min,
                max,
            })
        }
        _ => Err("a range is KEY<N, N<=KEY or A<=KEY<=B (both signs pointing the same way)".into()),
    }
}

/// A key: not empty, no spaces, quotes, brackets or operators.
fn key_of(text: &str) -> Result<String, String> {
    let key = text.trim();
    if key.is_empty() {
        return Err(format!("the key is missing; {EXPECTED}"));
    }
    if key.contains(|c: char| c.is_whitespace() || "<>=!()[],\"'".contains(c)) {
        return Err(format!("{key:?} is not a key; {EXPECTED}"));
    }
    if key.parse::<f64>().is_ok() {
        return Err(format!("{key:?} is a number, not a key"));
    }
    Ok(key.to_string())
}

/// A value trimmed, without one pair of surrounding quotes.
fn unquote(text: &str) -> String {
    let t = text.trim();
    for q in ['"', '\''] {
        if t.len() >= 2 && t.starts_with(q) && t.ends_with(q) {
            return t[1..t.len() - 1].to_string();
        }
    }
    t.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(key: &str, min: Option<(f64, bool)>, max: Option<(f64, bool)>) -> Condition {
        let b = |o: Option<(f64, bool)>| o.map(|(value, inclusive)| Bound { value, inclusive });
        Condition::Range {
            key: key.into(),
            min: b(min),
            max: b(max),
        }
    }

    #[test]
    fn the_grammar() {
        let p = |s: &str| condition(s).unwrap();
        assert_eq!(
            p("label = \"red bag\""),
            Condition::Equals {
                key: "label".into(),
                value: "red bag".into()
            }
        );
        assert_eq!(p("price<50"), range("price", None, Some((50.0, false))));
        assert_eq!(p("price >= 20"), range("price", Some((20.0, true)), None));
        assert_eq!(p("20<price"), range("price", Some((20.0, false)), None));
        assert_eq!(
            p("20<=price<=80"),
            range("price", Some((20.0, true)), Some((80.0, true)))
        );
        assert_eq!(
            p("80>price>=20"),
            range("price", Some((20.0, true)), Some((80.0, false)))
        );
        assert_eq!(
            p("colour IN (red, 'navy blue')"),
            Condition::In {
                key: "colour".into(),
                values: vec!["red".into(), "navy blue".into()]
            }
        );
        assert!(matches!(p("colour not in [red]"), Condition::Not(_)));
        assert!(matches!(p("NOT label=x"), Condition::Not(_)));
        assert_eq!(
            p("brand exists"),
            Condition::Exists {
                key: "brand".into()
            }
        );
        assert_eq!(
            p("in_stock"),
            Condition::Equals {
                key: "in_stock".into(),
                value: "true".into()
            }
        );
        assert_eq!(p("index=3").key(), "index", "a key may start with `in`");
        assert_eq!(p("notes=3").key(), "notes", "and with `not`");
    }

    #[test]
    fn bad_conditions_say_why() {
        let e = |s: &str| condition(s).unwrap_err();
        assert!(e("").contains("empty"));
        assert!(e("=x").contains("key is missing"));
        assert!(e("price<abc").contains("not a finite number"));
        assert!(e("price<inf").contains("not a finite number"));
        assert!(e("1<price>3").contains("same way"));
        assert!(e("3<5").contains("is a number"));
        assert!(e("colour in ()").contains("empty set"));
        assert!(e("colour in (a").contains("(A, B, C)"));
        assert!(e("two words").contains("not a key"));
        assert!(e("price<=>3").contains("range"));
    }
}
