//! A grid of run descriptions: a base description and, for some keys, alternatives; the grid is
//! the product of the alternatives, in a fixed order (the first key varies slowest).
//!
//! Written as TOML, a value in a list is the grid: `lr = [1e-4, 2e-5]`; for keys whose value
//! is itself a list (`layers`, `activations`, `digits`, `target`), a list of lists:
//! `layers = [[784, 128, 10], [784, 64, 10]]`.

use crate::run::table::{insert, remove};
use crate::run::{settings, table, RunSpec};
use crate::{Error, Result};
use std::path::Path;

/// The keys and values that set a configuration apart: `[("train.lr", 0.0001), ...]`.
pub type Label = Vec<(String, toml::Value)>;

/// A base run description and the alternatives of some of its keys.
#[derive(Clone, Debug, Default)]
pub struct Grid {
    /// Every key the grid does not vary.
    pub base: toml::Table,
    /// `(key, alternatives)`, e.g. `("train.lr", [1e-4, 2e-5])`, in the order given.
    pub axes: Vec<(String, Vec<toml::Value>)>,
}

impl Grid {
    /// Reads a grid from TOML text: every list where a single value belongs is an axis.
    pub fn from_toml_str(text: &str) -> Result<Grid> {
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| Error::invalid("grid", e.message().trim().to_string()))?;
        let mut grid = Grid::default();
        split_axes(&table, "", &mut grid)?;
        grid.check()?;
        Ok(grid)
    }

    /// Reads a grid from a TOML file; errors name the file and the key.
    pub fn from_toml_file(path: &Path) -> Result<Grid> {
        let text = crate::io::read_text_capped(path, 1 << 20, "grid")?;
        Grid::from_toml_str(&text).map_err(|e| match e {
            Error::Invalid { field, msg } => Error::bad_file(path, format!("{field}: {msg}")),
            e => e,
        })
    }

    /// Adds an axis (or, with one alternative, a fixed value). An empty list is an error
    /// naming the key.
    pub fn add(&mut self, key: &str, alternatives: Vec<toml::Value>) -> Result<()> {
        if alternatives.is_empty() {
            return Err(Error::invalid(key, "an empty list of alternatives"));
        }
        self.axes.retain(|(k, _)| k != key);
        remove(&mut self.base, key);
        self.axes.push((key.to_string(), alternatives));
        Ok(())
    }

    /// The number of configurations.
    pub fn len(&self) -> usize {
        self.axes.iter().map(|(_, a)| a.len()).product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Configuration `i` (0-based, in grid order) as a run description, and the key = value
    /// pairs that distinguish it (its label).
    pub fn config(&self, i: usize) -> Result<(RunSpec, Label)> {
        let mut table = self.base.clone();
        let mut label = Vec::new();
        let mut rest = i;
        // The last axis varies fastest.
        let mut picks = vec![0; self.axes.len()];
        for (a, (_, alts)) in self.axes.iter().enumerate().rev() {
            picks[a] = rest % alts.len();
            rest /= alts.len();
        }
        for ((key, alts), &p) in self.axes.iter().zip(&picks) {
            insert(&mut table, key, alts[p].clone());
            if alts.len() > 1 {
                label.push((key.clone(), alts[p].clone()));
            }
        }
        Ok((table::from_table(table)?, label))
    }

    /// Every configuration, checked: an invalid value is an error naming its key.
    pub fn configs(&self) -> Result<Vec<(RunSpec, Label)>> {
        (0..self.len()).map(|i| self.config(i)).collect()
    }

    fn check(&self) -> Result<()> {
        for (k, alts) in &self.axes {
            if alts.is_empty() {
                return Err(Error::invalid(k.clone(), "an empty list of alternatives"));
            }
        }
        // Every value of every axis must make a valid description.
        for (k, alts) in &self.axes {
            for v in alts {
                let mut t = self.base.clone();
                insert(&mut t, k, v.clone());
                serde_path_to_error::deserialize::<_, RunSpec>(toml::Value::Table(t)).map_err(
                    |e| Error::invalid(k.clone(), e.inner().message().trim().to_string()),
                )?;
            }
        }
        Ok(())
    }
}

/// Moves every list that stands for a grid from `table` into `grid.axes`.
fn split_axes(table: &toml::Table, prefix: &str, grid: &mut Grid) -> Result<()> {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => split_axes(t, &key, grid)?,
            toml::Value::Array(items) => {
                let list_key = settings::list_keys().any(|k| k == key);
                let nested = items.iter().all(|x| x.is_array());
                if list_key && !nested {
                    insert(&mut grid.base, &key, v.clone());
                } else if items.is_empty() {
                    return Err(Error::invalid(key, "an empty list of alternatives"));
                } else {
                    grid.axes.push((key, items.clone()));
                }
            }
            _ => insert(&mut grid.base, &key, v.clone()),
        }
    }
    Ok(())
}

/// A label as a directory name: `lr=0.0001,layers=784-64-10` (`run` for the only
/// configuration); characters other than letters, digits and `.=-_+` dropped.
pub fn label_dir(label: &[(String, toml::Value)]) -> String {
    if label.is_empty() {
        return "run".into();
    }
    label
        .iter()
        .map(|(k, v)| {
            let short = k.rsplit('.').next().unwrap_or(k);
            let value = match v {
                toml::Value::Array(items) => items
                    .iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join("-"),
                v => v.to_string(),
            };
            let keep = |c: &char| c.is_ascii_alphanumeric() || ".=-_+".contains(*c);
            format!("{short}={value}")
                .chars()
                .filter(keep)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A label as `lr=0.0001 layers=[784, 64, 10]`.
pub fn label_text(label: &[(String, toml::Value)]) -> String {
    if label.is_empty() {
        return "(the only configuration)".into();
    }
    label
        .iter()
        .map(|(k, v)| {
            let short = k.rsplit('.').next().unwrap_or(k);
            format!("{short}={v}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}
