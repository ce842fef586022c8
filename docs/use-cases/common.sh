# Sourced by the use-case scripts: moves to the repository root and finds the binary and the
# dataset, or stops (exit 2) saying what is missing and how to point at it.
#
# Sets: repo, caller_pwd, bin, data (after `need_dataset NAME`). LOOKALIKE_DATASETS and
# LOOKALIKE_BIN, when relative, are read from the caller's directory; the defaults are relative
# to the repository root.

caller_pwd=$(pwd)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
entry=${USE_CASE_SCRIPT:-$0} # a wrapper (flowers.sh, skin-cancer.sh) names itself
script=$(basename "$entry")

abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$caller_pwd/$1" ;; esac; }
# The default stays relative to the repository root (the scripts run there), so the reports name
# ../shared/datasets/NAME rather than this machine's absolute path.
datasets=$([ -n "${LOOKALIKE_DATASETS:-}" ] && abs "$LOOKALIKE_DATASETS" || echo "../shared/datasets")
bin=$([ -n "${LOOKALIKE_BIN:-}" ] && abs "$LOOKALIKE_BIN" || echo "$repo/target/release/lookalike")

# need_dataset NAME: sets `data` to $datasets/NAME, or stops.
need_dataset() {
    data="$datasets/$1"
    if [ ! -d "$data" ]; then
        echo "$script: no $1 dataset at $(case $data in /*) echo "$data" ;; *) echo "$repo/$data" ;; esac)" >&2
        echo "  (one subfolder of images per class). Point at the folder that holds $1/ with" >&2
        # The generic scripts need DATASET repeated; the wrappers set it themselves.
        hint=""
        if [ -z "${USE_CASE_SCRIPT:-}" ] && [ -n "${DATASET:-}" ]; then hint="DATASET=$DATASET "; fi
        echo "  LOOKALIKE_DATASETS=/path/to/datasets $hint$entry" >&2
        exit 2
    fi
    if [ ! -x "$bin" ]; then
        echo "$script: no lookalike binary at $bin; build it (cargo build --release) or set LOOKALIKE_BIN" >&2
        exit 2
    fi
}

# need_variant OPTION VALUE: extra options (CROP_ARGS, TRAIN_ARGS) change the results, so they
# need a VARIANT name that keeps those results apart from the defaults'.
need_variant() {
    if [ -n "$2" ] && [ -z "${VARIANT:-}" ]; then
        echo "$script: $1 needs a VARIANT name, so its results are kept apart from the defaults'" >&2
        exit 2
    fi
}
