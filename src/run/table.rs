//! Run descriptions as TOML tables: dotted keys (`train.lr`), laying one table over another,
//! and reading a table as a typed description with errors that name the key.

use crate::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Sets `a.b.c` in a table, making the sections on the way.
pub fn insert(table: &mut toml::Table, key: &str, value: toml::Value) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().expect("a key");
    let mut t = table;
    for p in parts {
        t = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .expect("a section");
    }
    t.insert(last.to_string(), value);
}

/// Removes `a.b.c` from a table, if there.
pub fn remove(table: &mut toml::Table, key: &str) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().expect("a key");
    let mut t = table;
    for p in parts {
        match t.get_mut(p).and_then(|v| v.as_table_mut()) {
            Some(next) => t = next,
            None => return,
        }
    }
    t.remove(last);
}

/// The value at `a.b.c`, if there.
pub fn get<'a>(table: &'a toml::Table, key: &str) -> Option<&'a toml::Value> {
    let mut parts = key.split('.').peekable();
    let mut t = table;
    while let Some(p) = parts.next() {
        let v = t.get(p)?;
        if parts.peek().is_none() {
            return Some(v);
        }
        t = v.as_table()?;
    }
    None
}

/// Every value of a table with its dotted key (`train.lr`), sections walked in order.
pub fn leaves(table: &toml::Table) -> Vec<(String, toml::Value)> {
    fn walk(t: &toml::Table, prefix: &str, out: &mut Vec<(String, toml::Value)>) {
        for (k, v) in t {
            let key = match prefix {
                "" => k.clone(),
                p => format!("{p}.{k}"),
            };
            match v {
                toml::Value::Table(inner) => walk(inner, &key, out),
                v => out.push((key, v.clone())),
            }
        }
    }
    let mut out = Vec::new();
    walk(table, "", &mut out);
    out
}

/// Sets `key` only where the table has no value for it.
pub fn insert_default(table: &mut toml::Table, key: &str, value: toml::Value) {
    if get(table, key).is_none() {
        insert(table, key, value);
    }
}

/// `base` with every value `over` gives laid over it, section by section.
pub fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// A typed value as a table (its `None` fields left out).
pub fn to_table<T: Serialize>(value: &T) -> toml::Table {
    toml::Table::try_from(value).expect("a run description serialises as a TOML table")
}

/// Reads a table as `T`; an error names the key (`train.lr: invalid type ...`).
pub fn from_table<T: DeserializeOwned>(table: toml::Table) -> Result<T> {
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { "run".to_string() } else { key };
        Error::invalid(key, e.inner().message().trim().to_string())
    })
}
