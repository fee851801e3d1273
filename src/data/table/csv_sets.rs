//! A CSV file as the training set of a task: which columns are targets (`--target`), their
//! roles for the parser, and the dataset made of the columns it reads.

use super::{csv, FileSets, Task, MAX_CLASSES};
use crate::data::{Dataset, Features, Target};
use crate::{Error, Result};
use std::path::Path;

pub(super) fn read_csv(path: &Path, target: &[String], task: Task) -> Result<FileSets> {
    let header = csv::read_header(path)?;
    let bad = |msg: String| Error::bad_file(path, msg);
    let cols = header.cols;
    let mut targets = Vec::new();
    for t in target {
        let t = t.trim();
        let by_name = header
            .names
            .as_ref()
            .and_then(|h| h.iter().position(|c| c == t));
        let col = by_name
            .or_else(|| t.parse::<usize>().ok().filter(|&i| i < cols))
            .ok_or_else(|| {
                bad(match &header.names {
                    Some(h) => format!(
                        "no column '{t}' (the columns are {}; or give a 0-based index below {cols})",
                        h.join(", ")
                    ),
                    None => format!("no column {t}: the file has {cols} columns (0 to {})", cols - 1),
                })
            })?;
        targets.push(col);
    }
    if targets.is_empty() && task != Task::Autoencode {
        targets.push(cols - 1);
    }
    if targets.len() >= cols {
        return Err(bad("no feature columns left besides the targets".into()));
    }
    if task == Task::Classify && targets.len() != 1 {
        return Err(bad(format!(
            "class labels must be one column, not {} (regress several values with --task regress)",
            targets.len()
        )));
    }
    let target_role = match task {
        Task::Classify => csv::Role::Label,
        _ => csv::Role::Value,
    };
    let roles: Vec<csv::Role> = (0..cols)
        .map(|c| match targets.contains(&c) {
            true => target_role,
            false => csv::Role::Feature,
        })
        .collect();
    let started = std::time::Instant::now();
    let read = csv::read(path, &header, &roles)?;
    log::debug!(
        "{}: {} rows read in {:.2} s",
        path.display(),
        read.rows,
        started.elapsed().as_secs_f64()
    );
    let (rows, dim, k) = (read.rows, cols - targets.len(), targets.len());
    // The parser gives targets in column order; the run wants them in the order asked for.
    let mut by_column = targets.clone();
    by_column.sort_unstable();
    let mut values = read.targets;
    if by_column != targets {
        let at: Vec<usize> = targets
            .iter()
            .map(|t| by_column.iter().position(|c| c == t).expect("a target"))
            .collect();
        let mut row = vec![0.0; k];
        for r in values.chunks_exact_mut(k) {
            for (j, &from) in at.iter().enumerate() {
                row[j] = r[from];
            }
            r.copy_from_slice(&row);
        }
    }
    let features = Features::F32(read.features.into());
    // Label columns (checked where they were read) as classes: the labels and their count.
    let classes_of = |values: &[f32]| {
        let labels: Vec<u32> = values.iter().map(|&v| v as u32).collect();
        let classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
        (labels, classes)
    };
    let (labels, classes, target) = match task {
        Task::Classify => {
            let (labels, classes) = classes_of(&values);
            (labels, classes, Target::Classes)
        }
        Task::Regress => (
            vec![0; rows],
            0,
            Target::Values {
                dim: k,
                values: values.into(),
                units: Vec::new(),
            },
        ),
        Task::Autoencode => {
            // A target column of classes colours the pictures; anything else is ignored.
            let is_label = |v: &f32| *v >= 0.0 && v.fract() == 0.0 && (*v as usize) < MAX_CLASSES;
            match k == 1 && values.iter().all(is_label) {
                true => {
                    let (labels, classes) = classes_of(&values);
                    (labels, classes, Target::Input)
                }
                false => (vec![0; rows], 0, Target::Input),
            }
        }
    };
    let train = Dataset {
        name: path.display().to_string(),
        dim,
        features,
        labels,
        classes,
        target,
        weights: None,
    };
    let target_names = targets
        .iter()
        .map(|&c| match &header.names {
            Some(h) => h[c].clone(),
            None => format!("column {c}"),
        })
        .collect();
    Ok(FileSets {
        train,
        test: None,
        images: false,
        target_names,
    })
}
