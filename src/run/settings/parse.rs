//! A flag's text as a value of the run description, and a setting's declared default as one.

use super::IfUnset::*;
use super::Kind::*;
use super::{DataKind, Setting};
use crate::{Error, Result};
use std::path::Path;

impl Setting {
    /// The key a flag's text sets: `--data` names a directory of IDX files (`data.dir`) or a
    /// file (`data.file`).
    pub fn key_for(&self, text: &str) -> &'static str {
        if self.key == "data.file" && Path::new(text).is_dir() {
            "data.dir"
        } else {
            self.key
        }
    }

    /// A flag's text as a value: `0.1` as a float for `--lr`, `784,128,10` as a list for
    /// `--layers`. An error names the flag's key and the text.
    pub fn parse(&self, text: &str) -> Result<toml::Value> {
        let bad = |what: String| Error::invalid(self.key, what);
        let t = text.trim();
        Ok(match self.kind {
            Text => toml::Value::String(t.to_string()),
            Int => toml::Value::Integer(
                t.parse()
                    .map_err(|_| bad(format!("'{t}' is not a whole number")))?,
            ),
            Float => toml::Value::Float(
                t.parse()
                    .map_err(|_| bad(format!("'{t}' is not a number")))?,
            ),
            Switch | NoSwitch => {
                let b: bool = t
                    .parse()
                    .map_err(|_| bad(format!("'{t}' is not true or false")))?;
                toml::Value::Boolean(if self.kind == NoSwitch { !b } else { b })
            }
            Ints(noun) => toml::Value::Array(
                t.split(',')
                    .map(|p| {
                        let p = p.trim();
                        p.parse::<u32>()
                            .map(|n| toml::Value::Integer(n.into()))
                            .map_err(|_| bad(format!("'{p}' is not {noun} in '{t}'")))
                    })
                    .collect::<Result<_>>()?,
            ),
            Texts => toml::Value::Array(
                t.split(',')
                    .map(|p| toml::Value::String(p.trim().to_string()))
                    .collect(),
            ),
        })
    }

    /// A sweep flag's texts as alternatives: a scalar flag's comma list, or one value per
    /// occurrence of a list-valued one.
    pub fn alternatives(&self, texts: &[String]) -> Result<Vec<toml::Value>> {
        let mut values = Vec::new();
        for text in texts {
            if self.kind.is_list() {
                values.push(self.parse(text)?);
            } else {
                for part in text.split(',') {
                    values.push(self.parse(part)?);
                }
            }
        }
        Ok(values)
    }

    /// The default for `kind` of data, when one value is declared for it (not off, derived
    /// or the optimizer's).
    pub fn default_value(&self, kind: DataKind) -> Option<toml::Value> {
        let text = match self.default {
            Value(v) | AtLoad(v) => v,
            PerData(b) | RuleThenPerData(b) => b.of(kind),
            Off | Optimizer | Derived(_) => return None,
        };
        let table: toml::Table =
            toml::from_str(&format!("v = {text}")).expect("a declared default is TOML");
        table.get("v").cloned()
    }
}
