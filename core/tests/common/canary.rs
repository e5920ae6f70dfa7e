//! Puts a unique canary string into every text field of a document.
//!
//! Works on the document's JSON form, so it covers every field the model has,
//! including ones added later: each string leaf is replaced by a canary, and
//! the replacement is kept only if the document still deserializes and
//! validates (ids, timestamps and enum tags are therefore left alone).
use fieldvault::model::DocumentBody;
use serde_json::Value;

pub struct Canaries {
    pub prefix: String,
    pub planted: Vec<String>,
    next: usize,
}

impl Canaries {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.into(),
            planted: Vec::new(),
            next: 0,
        }
    }

    fn make(&mut self) -> String {
        self.next += 1;
        // Alternate ASCII and Japanese canaries; both are long enough that a
        // chance match inside ciphertext is impossible in practice.
        if self.next % 2 == 0 {
            format!("CANARY-{}-{:03}-plaintext", self.prefix, self.next)
        } else {
            format!("カナリア{}第{:03}号秘密", self.prefix, self.next)
        }
    }

    /// Returns `doc` with canaries in every text field that accepts one.
    pub fn plant<T: DocumentBody>(&mut self, doc: &T) -> T {
        let mut json = serde_json::to_value(doc).expect("to json");
        let paths = string_paths(&json);
        for path in paths {
            let canary = self.make();
            let old = replace_at(&mut json, &path, Value::String(canary.clone()));
            let ok = serde_json::from_value::<T>(json.clone())
                .map(|d| d.validate().is_ok())
                .unwrap_or(false);
            if ok {
                self.planted.push(canary);
            } else {
                replace_at(&mut json, &path, old);
            }
        }
        serde_json::from_value(json).expect("from json")
    }
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

fn string_paths(v: &Value) -> Vec<Vec<Step>> {
    fn walk(v: &Value, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        match v {
            Value::String(_) => out.push(path.clone()),
            Value::Object(m) => {
                for (k, child) in m {
                    path.push(Step::Key(k.clone()));
                    walk(child, path, out);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    path.push(Step::Index(i));
                    walk(child, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

fn replace_at(root: &mut Value, path: &[Step], new: Value) -> Value {
    let mut cur = root;
    for step in path {
        cur = match step {
            Step::Key(k) => cur.get_mut(k.as_str()).expect("path"),
            Step::Index(i) => cur.get_mut(*i).expect("path"),
        };
    }
    std::mem::replace(cur, new)
}
