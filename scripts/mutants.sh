#!/usr/bin/env bash
# Mutation testing of the modules whose planted bugs once passed every test (issue 20): the
# table readers, splits and folds, the run's preparation, the sweep's folds and ranking,
# checkpoints and the optimizer state on the GPU. cargo-mutants changes one thing at a time
# (an operator, a return value, a deleted field) and runs the matching tests; a mutant that
# no test catches is either a missing test or a change that cannot matter (say which in the
# commit that leaves it).
#
#   cargo install cargo-mutants --locked
#   bash scripts/mutants.sh                 # every mutant of those modules (hours on 2 cores)
#   bash scripts/mutants.sh --re 'fold|rank' # only those whose name matches
#
# Results land in mutants.out/ (caught.txt, missed.txt, timeout.txt, unviable.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
exec cargo mutants --baseline skip --timeout 300 \
  -f src/data/table/csv.rs -f src/data/table/mod.rs -f src/data/split.rs -f src/data/scale.rs \
  -f src/run/resolve.rs -f src/sweep/mod.rs -f src/sweep/results.rs \
  -f src/checkpoint/read.rs -f src/checkpoint/write.rs -f src/gpu/engine/optim.rs \
  "$@" \
  -- --test it -- tables:: tables_cli:: sweep:: data_split:: run_config:: checkpoint:: \
  optim_engines:: faults_resume
