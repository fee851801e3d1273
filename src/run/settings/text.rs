//! What `--help` and the README say of the settings: each default in words, and the README's
//! table.

use super::IfUnset::*;
use super::Kind::*;
use super::{ByData, Setting, SETTINGS};
use crate::optim::{OptimizerConfig, OptimizerKind};

impl ByData {
    /// `10 for images; 100 for the synthetic sets and tables`: the kinds with the same value
    /// together, in order.
    fn describe(&self) -> String {
        let kinds = [
            (self.images, "images"),
            (self.synthetic, "the synthetic sets"),
            (self.classified_table, "classified tables"),
            (self.other_table, "regressed and autoencoded tables"),
        ];
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for (v, name) in kinds {
            match groups.iter_mut().find(|(gv, _)| *gv == v) {
                Some((_, names)) => names.push(name),
                None => groups.push((v, vec![name])),
            }
        }
        let groups: Vec<(String, String)> = groups
            .into_iter()
            .map(|(v, mut names)| {
                if names.ends_with(&["classified tables", "regressed and autoencoded tables"]) {
                    names.truncate(names.len() - 2);
                    names.push("tables");
                }
                (unquote(v).to_string(), and_list(&names))
            })
            .collect();
        match groups.as_slice() {
            [(v, _)] => v.clone(),
            _ => groups
                .iter()
                .map(|(v, names)| format!("{v} for {names}"))
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// A number as a person writes it: `0.9`, `0`, `1e-8`.
fn number_text(v: &serde_json::Value) -> String {
    let text = v.to_string();
    text.strip_suffix(".0").map_or(text.clone(), str::to_string)
}

fn unquote(toml_text: &str) -> &str {
    toml_text.trim_matches('"')
}

impl Setting {
    /// The default as `--help` and the README say it; none when the setting is off unless
    /// given.
    pub fn default_text(&self) -> Option<String> {
        if matches!(self.kind, Switch | NoSwitch) {
            // Off unless given: the flag says what it turns on.
            return None;
        }
        Some(match self.default {
            Off => return None,
            Value(v) | AtLoad(v) => unquote(v).to_string(),
            PerData(b) => b.describe(),
            RuleThenPerData(b) => {
                let mut rules: Vec<(String, Vec<&str>)> = Vec::new();
                for k in OptimizerKind::ALL {
                    if let Some(lr) = k.default_lr() {
                        let v = number_text(&crate::io::json_as_written(&lr));
                        match rules.iter_mut().find(|(rv, _)| *rv == v) {
                            Some((_, names)) => names.push(k.name()),
                            None => rules.push((v, vec![k.name()])),
                        }
                    }
                }
                let rules: Vec<String> = rules
                    .iter()
                    .map(|(v, names)| format!("{v} with {}", and_list(names)))
                    .collect();
                format!("{}; {}", b.describe(), rules.join("; "))
            }
            Optimizer => {
                let field = self.key.trim_start_matches("optimizer.");
                let mut by_rule: Vec<(String, Vec<&str>)> = Vec::new();
                for k in OptimizerKind::ALL {
                    let c = crate::io::json_as_written(&OptimizerConfig::of(k));
                    let v = number_text(&c[field]);
                    match by_rule.iter_mut().find(|(bv, _)| *bv == v) {
                        Some((_, names)) => names.push(k.name()),
                        None => by_rule.push((v, vec![k.name()])),
                    }
                }
                let mut parts = by_rule.into_iter();
                let (first, _) = parts.next().expect("a rule");
                let rest: Vec<String> = parts
                    .map(|(v, names)| format!("{} {v}", and_list(&names)))
                    .collect();
                match rest.is_empty() {
                    true => first,
                    false => format!("{first}; {}", rest.join("; ")),
                }
            }
            Derived(text) => text.to_string(),
        })
    }

    /// `--help`'s text: the help and the default.
    pub fn help_text(&self) -> String {
        match self.default_text() {
            Some(d) => format!("{} [default: {d}]", self.help),
            None => self.help.to_string(),
        }
    }
}

/// The settings as the README's Markdown table: flag, key, meaning, default.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| flag | key in a run description | meaning | default |\n|---|---|---|---|\n",
    );
    for s in SETTINGS {
        let flag = match (s.kind, s.value_name) {
            (Switch | NoSwitch, _) => format!("`--{}`", s.flag),
            (_, Some(v)) => format!("`--{} {v}`", s.flag),
            (_, None) => format!("`--{}`", s.flag),
        };
        let default = s.default_text().unwrap_or_default();
        let cell = |t: &str| t.replace('|', "\\|");
        out += &format!(
            "| {flag} | `{}` | {} | {} |\n",
            s.key,
            cell(s.help),
            cell(&default)
        );
    }
    out
}
