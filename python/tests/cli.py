"""The `gpunn` command line from the tests: the debug build scripts/test.sh makes, or GPUNN_BIN."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def binary():
    path = Path(os.environ.get("GPUNN_BIN", ROOT / "target" / "debug" / "gpunn"))
    assert path.exists(), f"{path} is missing: run cargo build (scripts/test.sh does) or set GPUNN_BIN"
    return path


def command(*args, check=True):
    """Runs `gpunn ARGS` from the repository root; its completed process (text output)."""
    done = subprocess.run([str(binary()), *map(str, args)], capture_output=True, text=True, cwd=ROOT)
    if check and done.returncode != 0:
        raise AssertionError(f"gpunn {' '.join(map(str, args))} exited {done.returncode}: {done.stderr}")
    return done
