//! The README's figures, checked. Every command in a `sh` block of README.md whose comment
//! states a figure (`test accuracy 98.8%`, `test MSE 3010, MAE 43.4, R² 0.36`) runs through
//! the real binary on the CPU engine, and its `--metrics` JSON is compared with the figure
//! within the tolerances the README states (see [`check`]). The commands of the same block
//! that write what such a command reads (`--save`, `--out`) run before it.
//!
//! Blocks on Fashion-MNIST run in their own test, when the data are found; `.ci/run` installs
//! Debian's `dataset-fashion-mnist` and sets `GPUNN_REQUIRE_DATA=1`, which turns their
//! absence into a failure.

use crate::cli::stderr;
use crate::common::Scratch;
use std::path::Path;

/// One figure a comment states: the metrics key and the value as written (accuracy in %).
#[derive(Clone, Debug, PartialEq)]
struct Figure {
    key: &'static str,
    value: f64,
}

/// A `gpunn` command of a README block, with the figures its comment states.
#[derive(Clone, Debug)]
struct Cmd {
    line: usize,
    args: Vec<String>,
    figures: Vec<Figure>,
}

/// The number written right after the first `key` in `text` (`1,234.5` reads as 1234.5).
fn number_after(text: &str, key: &str) -> Option<f64> {
    let rest = &text[text.find(key)? + key.len()..];
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',' || *c == '-')
        .filter(|c| *c != ',')
        .collect();
    digits.trim_end_matches('.').parse().ok()
}

/// The figures of a comment: `test accuracy N%`, or `test MSE N` with `MAE N` and `R² N`.
fn figures(comment: &str) -> Vec<Figure> {
    let mut out = Vec::new();
    let mut add = |key, text: &str, after| {
        if let Some(value) = number_after(text, after) {
            out.push(Figure { key, value });
        }
    };
    add("test_accuracy", comment, "test accuracy ");
    if let Some(i) = comment.find("test MSE ") {
        let rest = &comment[i..];
        add("test_mse", rest, "test MSE ");
        add("test_mae", rest, "MAE ");
        add("test_r2", rest, "R² ");
    }
    out
}

/// The `sh` blocks of `readme`, each as its `gpunn` commands (continuation lines joined, a
/// comment on the command's line or on the lines right below it attached to it).
fn blocks(readme: &str) -> Vec<Vec<Cmd>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<Cmd>> = None;
    let mut pending = String::new();
    let mut start = 0;
    for (i, line) in readme.lines().enumerate() {
        let t = line.trim();
        if t.starts_with("```") {
            match current.take() {
                Some(b) => blocks.push(b),
                None if t == "```sh" => current = Some(Vec::new()),
                None => {}
            }
            continue;
        }
        let Some(block) = current.as_mut() else {
            continue;
        };
        if pending.is_empty() {
            start = i + 1;
        }
        pending.push_str(t.trim_end_matches('\\'));
        pending.push(' ');
        if t.ends_with('\\') {
            continue;
        }
        let logical = std::mem::take(&mut pending);
        let (code, comment) = match logical.find(" #") {
            Some(k) => (&logical[..k], &logical[k + 2..]),
            None if logical.trim_start().starts_with('#') => ("", logical.trim_start()),
            None => (logical.as_str(), ""),
        };
        let words: Vec<String> = code.split_whitespace().map(String::from).collect();
        if words.first().is_some_and(|w| w == "gpunn") {
            block.push(Cmd {
                line: start,
                args: words[1..].to_vec(),
                figures: figures(comment),
            });
        } else if code.trim().is_empty() && !comment.is_empty() {
            // A comment line below a command belongs to it.
            if let Some(last) = block.last_mut() {
                last.figures.extend(figures(comment));
            }
        }
    }
    blocks
}

/// The value after `flag` in `args`.
fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1).map(String::as_str)
}

/// The commands of `block` to run, in order: those stating a figure, and before them those
/// whose `--save` or `--out` a later one reads.
fn to_run(block: &[Cmd]) -> Vec<Cmd> {
    let mut run: Vec<Cmd> = Vec::new();
    for c in block.iter().rev() {
        let writes = flag(&c.args, "--save").or(flag(&c.args, "--out"));
        let needed = writes.is_some_and(|w| run.iter().any(|r| r.args.iter().any(|a| a == w)));
        if !c.figures.is_empty() || needed {
            run.insert(0, c.clone());
        }
    }
    run
}

/// The README's tolerances: accuracy within 1 percentage point or 2 test samples, whichever
/// is more; MSE and MAE within 5%; R² within 0.03. `None` when `got` is within them.
fn check(fig: &Figure, metrics: &serde_json::Value) -> Option<String> {
    let got = metrics[fig.key].as_f64()?;
    let (got, tol) = match fig.key {
        "test_accuracy" => {
            let n: f64 = metrics["confusion_matrix"]
                .as_array()
                .map(|rows| {
                    rows.iter()
                        .flat_map(|r| r.as_array().into_iter().flatten())
                        .filter_map(|v| v.as_f64())
                        .sum()
                })
                .unwrap_or(0.0);
            (100.0 * got, (200.0 / n.max(1.0)).max(1.0))
        }
        "test_r2" => (got, 0.03),
        _ => (got, 0.05 * fig.value.abs()),
    };
    ((got - fig.value).abs() > tol).then(|| {
        format!(
            "{} is {got:.4}, the README says {} (tolerance {tol:.4})",
            fig.key, fig.value
        )
    })
}

/// Runs `blocks` in `dir` (with `tests/` linked in, so the README's relative paths resolve)
/// and returns every figure that does not hold, and how many were checked.
fn run_blocks(blocks: &[Vec<Cmd>], dir: &Path) -> (Vec<String>, usize) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.join("tests"), dir.join("tests")).unwrap();
    let (mut failures, mut checked) = (Vec::new(), 0);
    for (b, block) in blocks.iter().enumerate() {
        for (i, c) in to_run(block).iter().enumerate() {
            let mut args = c.args.clone();
            let metrics = match flag(&args, "--metrics") {
                Some(m) => m.to_string(),
                None if !c.figures.is_empty() => {
                    let m = format!("readme-{b}-{i}.json");
                    args.extend(["--metrics".into(), m.clone()]);
                    m
                }
                None => String::new(),
            };
            if flag(&args, "--device").is_none() && args[0] != "features" {
                args.extend(["--device".into(), "cpu".into()]);
            }
            // In the scratch directory, where the README's relative paths resolve.
            let o = std::process::Command::new(env!("CARGO_BIN_EXE_gpunn"))
                .args(&args)
                .current_dir(dir)
                .output()
                .expect("run gpunn");
            let what = format!("README.md line {}: gpunn {}", c.line, c.args.join(" "));
            if !o.status.success() {
                failures.push(format!("{what}: failed: {}", stderr(&o)));
                break;
            }
            if c.figures.is_empty() {
                continue;
            }
            let text = std::fs::read_to_string(dir.join(&metrics)).unwrap();
            let m: serde_json::Value = serde_json::from_str(&text).unwrap();
            for fig in &c.figures {
                checked += 1;
                match check(fig, &m) {
                    Some(why) => failures.push(format!("{what}: {why}")),
                    None => eprintln!("{what}: {} {} holds", fig.key, fig.value),
                }
            }
        }
    }
    (failures, checked)
}

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

fn uses_fashion(block: &[Cmd]) -> bool {
    to_run(block)
        .iter()
        .any(|c| c.args.iter().any(|a| a == "fashion-mnist"))
}

#[test]
fn readme_parser_reads_figures_and_dependencies() {
    let text = "```sh\ngpunn train --data a.csv \\\n    --epochs 3   # test accuracy 98.8%\n\
        gpunn train --data b.csv --save m.safetensors\n\
        gpunn features --model m.safetensors --out f.npz\n\
        gpunn train --data f.npz\n#   test MSE 3,010  MAE 43.4  R² 0.36 (units)\n\
        gpunn train --data unrelated.csv\n```\n";
    let b = blocks(text);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0][0].args, ["train", "--data", "a.csv", "--epochs", "3"]);
    assert_eq!(b[0][0].line, 2);
    assert_eq!(
        b[0][0].figures,
        [Figure {
            key: "test_accuracy",
            value: 98.8
        }]
    );
    let keys: Vec<(&str, f64)> = b[0][3].figures.iter().map(|f| (f.key, f.value)).collect();
    assert_eq!(
        keys,
        [("test_mse", 3010.0), ("test_mae", 43.4), ("test_r2", 0.36)]
    );
    let run: Vec<usize> = to_run(&b[0]).iter().map(|c| c.line).collect();
    assert_eq!(run, [2, 4, 5, 6], "the unrelated command does not run");
    // The tolerances: 2 of 80 samples is 2.5 points; 1 point of 2,000.
    let m = |acc: f64, n: u64| serde_json::json!({"test_accuracy": acc, "confusion_matrix": [[n]]});
    let fig = Figure {
        key: "test_accuracy",
        value: 98.8,
    };
    assert!(check(&fig, &m(0.965, 80)).is_none());
    assert!(check(&fig, &m(0.96, 80)).is_some());
    assert!(check(&fig, &m(0.978, 2000)).is_none());
    assert!(check(&fig, &m(0.977, 2000)).is_some());
}

/// The README states figures, and each one's command is found.
#[test]
fn readme_states_figures_for_its_commands() {
    let b = blocks(&readme());
    let stated: usize = b.iter().flatten().map(|c| c.figures.len()).sum();
    assert!(stated >= 10, "only {stated} figures found in README.md");
}

#[test]
fn readme_figures_hold() {
    let short: Vec<Vec<Cmd>> = blocks(&readme())
        .into_iter()
        .filter(|b| !uses_fashion(b))
        .collect();
    let dir = Scratch::new("readme_figures");
    let (failures, checked) = run_blocks(&short, &dir);
    assert!(checked >= 8, "only {checked} figures checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The Fashion-MNIST figures (a minute or two): run when the data are found.
#[test]
fn readme_figures_on_fashion_mnist_hold() {
    if gpunn::data::mnist::locate("fashion-mnist").is_err() {
        if std::env::var("GPUNN_REQUIRE_DATA").is_ok_and(|v| v == "1") {
            panic!(
                "GPUNN_REQUIRE_DATA=1 but Fashion-MNIST is not installed (apt-get install \
                 dataset-fashion-mnist)"
            );
        }
        eprintln!("SKIPPED readme_figures_on_fashion_mnist_hold: Fashion-MNIST not found");
        return;
    }
    let long: Vec<Vec<Cmd>> = blocks(&readme())
        .into_iter()
        .filter(|b| uses_fashion(b))
        .collect();
    let dir = Scratch::new("readme_fashion");
    let (failures, checked) = run_blocks(&long, &dir);
    assert!(checked >= 3, "only {checked} figures checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
