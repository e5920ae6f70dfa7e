//! Which fields an edit changed, for the history. Compares the JSON forms of
//! the document before and after and lists dotted paths (`taxpayer.name`,
//! `medical_expenses[2].amount_yen`). Only paths are recorded, never values.
use serde_json::Value;

/// Paths ignored because the vault sets them on every write.
const BOOKKEEPING: &[&str] = &["envelope.updated_at", "envelope.device_id"];

pub(crate) fn changed_fields(before: &Value, after: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(before, after, String::new(), 0, &mut out);
    out.retain(|p| !BOOKKEEPING.contains(&p.as_str()));
    out
}

fn walk(a: &Value, b: &Value, path: String, depth: usize, out: &mut Vec<String>) {
    if a == b {
        return;
    }
    match (a, b) {
        (Value::Object(ma), Value::Object(mb)) if depth < 6 => {
            let mut keys: Vec<&String> = ma.keys().chain(mb.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(
                    ma.get(k).unwrap_or(&Value::Null),
                    mb.get(k).unwrap_or(&Value::Null),
                    child,
                    depth + 1,
                    out,
                );
            }
        }
        (Value::Array(la), Value::Array(lb)) if depth < 6 && la.len() == lb.len() => {
            for (i, (x, y)) in la.iter().zip(lb).enumerate() {
                walk(x, y, format!("{path}[{i}]"), depth + 1, out);
            }
        }
        _ => out.push(if path.is_empty() { "$".into() } else { path }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_changed_paths_only() {
        let a = json!({"envelope": {"updated_at": "1", "status": "draft"}, "taxpayer": {"name": "a", "kana": "b"}, "list": [1, 2]});
        let b = json!({"envelope": {"updated_at": "2", "status": "ready"}, "taxpayer": {"name": "c", "kana": "b"}, "list": [1, 3]});
        assert_eq!(
            changed_fields(&a, &b),
            vec!["envelope.status", "list[1]", "taxpayer.name"]
        );
        let c = json!({"list": [1, 2, 3]});
        assert_eq!(changed_fields(&json!({"list": [1, 2]}), &c), vec!["list"]);
    }
}
