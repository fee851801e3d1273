//! The run's settings as flags, made from their declarations ([`gpunn::run::settings`]):
//! `gpunn train` takes one value of each, `gpunn sweep` alternatives, `step` the optimizer's.

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use gpunn::run::settings::{Kind, Setting, SETTINGS};
use gpunn::run::RunSpec;
use gpunn::sweep::Grid;

/// Which settings a command takes, and how.
pub trait Scope {
    /// The command takes this setting.
    fn takes(s: &Setting) -> bool;
    /// Alternatives (a sweep) rather than one value.
    const SWEEP: bool = false;
    /// `--help`'s text.
    fn help(s: &Setting) -> String {
        s.help_text()
    }
}

/// `gpunn train`: every setting, one value each.
pub struct Train;
impl Scope for Train {
    fn takes(_: &Setting) -> bool {
        true
    }
}

/// `gpunn sweep`: every setting that may be an axis, with alternatives.
pub struct Sweep;
impl Scope for Sweep {
    fn takes(s: &Setting) -> bool {
        s.sweep
    }
    const SWEEP: bool = true;
}

/// `gpunn step`: the optimizer's settings.
pub struct Optimizer;
impl Scope for Optimizer {
    fn takes(s: &Setting) -> bool {
        s.key.starts_with("optimizer.")
    }
}

/// `eval`, `features`, `embed`: other data than the model's own.
pub struct OtherData;
impl Scope for OtherData {
    fn takes(s: &Setting) -> bool {
        matches!(
            s.key,
            "data.dataset"
                | "data.file"
                | "data.labels"
                | "data.test"
                | "data.test_split"
                | "data.target"
                | "data.task"
                | "data.scale"
        )
    }
    fn help(s: &Setting) -> String {
        format!("{} [default: the model's own]", s.help)
    }
}

/// The settings given on the command line, as texts.
pub struct SettingFlags<S> {
    pub given: Vec<(&'static Setting, Vec<String>)>,
    scope: std::marker::PhantomData<S>,
}

impl<S: Scope> SettingFlags<S> {
    /// The run description these flags give (only what was given).
    pub fn spec(&self) -> gpunn::Result<RunSpec> {
        RunSpec::from_flags(
            self.given
                .iter()
                .flat_map(|(s, texts)| texts.iter().map(move |t| (*s, t.as_str()))),
        )
    }

    /// Adds every given flag to `grid` as an axis (or, with one value, a fixed value).
    pub fn add_to(&self, grid: &mut Grid) -> gpunn::Result<()> {
        for (s, texts) in &self.given {
            grid.add(s.key_for(&texts[0]), s.alternatives(texts)?)?;
        }
        Ok(())
    }
}

/// What `--resume` cannot be given with: `--config`, and the settings that define the run
/// resumed (its data, model, batch size and seed).
pub fn resume_conflicts() -> Vec<&'static str> {
    let fixed = SETTINGS.iter().filter(|s| !s.on_resume).map(|s| s.key);
    std::iter::once("config").chain(fixed).collect()
}

fn arg<S: Scope>(s: &'static Setting) -> Arg {
    let switch = matches!(s.kind, Kind::Switch | Kind::NoSwitch);
    let mut a = Arg::new(s.key).long(s.flag).help(S::help(s));
    // clap's own naming: `--batch-size <BATCH_SIZE>`.
    let name = s
        .value_name
        .map_or_else(|| s.flag.to_uppercase().replace('-', "_"), str::to_string);
    a = a.value_name(&*Box::leak(name.into_boxed_str()));
    if matches!(s.kind, Kind::Int | Kind::Float) {
        // `--power-t -1` is a value (that the library then refuses by name), not a flag.
        a = a.allow_negative_numbers(true);
    }
    if S::SWEEP {
        a = a.action(ArgAction::Append);
        if switch {
            // `--nesterov` alone, or `--nesterov true,false` to sweep both.
            a = a.num_args(0..=1).default_missing_value("true");
        }
    } else if switch {
        a = a.action(ArgAction::SetTrue);
    }
    a
}

impl<S: Scope> Args for SettingFlags<S> {
    fn augment_args(mut cmd: Command) -> Command {
        for s in SETTINGS.iter().filter(|s| S::takes(s)) {
            cmd = cmd.arg(arg::<S>(s));
        }
        cmd
    }
    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl<S: Scope> FromArgMatches for SettingFlags<S> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut given = Vec::new();
        for s in SETTINGS.iter().filter(|s| S::takes(s)) {
            let switch = matches!(s.kind, Kind::Switch | Kind::NoSwitch);
            if switch && !S::SWEEP {
                if m.get_flag(s.key) {
                    given.push((s, vec!["true".to_string()]));
                }
            } else if let Some(v) = m.get_many::<String>(s.key) {
                given.push((s, v.cloned().collect()));
            }
        }
        Ok(SettingFlags {
            given,
            scope: std::marker::PhantomData,
        })
    }
    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}
