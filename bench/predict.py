"""Benchmark: the plan's predicted duration and peak memory per parcel against what the
parcel measured, before and after one calibration run.

    python bench/predict.py [--data /work/bench-data] [--scales medium,large] [--parcels 3]

For each world (built once by `bench/validate.py`'s `ensure_world`, kept under `--data`),
with no measurement history:

1. `logcache validate --force`: predicted from the quick sample (one segment decoded),
   and every unit records what it measured (the calibration run);
2. `logcache validate --force` again: predicted from that history.

After each, `logcache status --json` sets each parcel's prediction against its measured
span and peak. Printed per parcel: predicted and actual seconds, their ratio, the error
((actual - predicted) / actual) and the peaks; the issue's target is every parcel of the
calibrated run within 30% on `medium` and `large`. The baseline of the ratio is the run
itself, measured in the same process tree as an operator runs it (imports included).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from validate import ensure_world, log, timed

from logcache.validation.predict import MEASUREMENTS, PREDICTIONS
from state.config import load_config

TARGET = 0.30


def logcache(*args: object) -> list[str]:
    return [sys.executable, "-m", "logcache", *map(str, args)]


def forecasts(campaign: Path) -> list[dict[str, object]]:
    out = subprocess.run(logcache("status", campaign, "--json"), capture_output=True, text=True, check=True).stdout
    return list(json.loads(out)["parcel_forecasts"])


def run(campaign: Path, parcels: int, what: str) -> float:
    """One whole validation; the worst parcel's error, as a fraction of its actual time."""
    seconds, peak, proc = timed(logcache("validate", campaign, "--force", "--parcel-count", parcels))
    if proc.returncode not in (0, 1):
        raise SystemExit(f"validate exited {proc.returncode}: {proc.stderr.strip()}")
    print(f"  {what}: the run took {seconds:.1f} s, peak RSS of its process tree {peak:.0f} MB")
    print(f"    {'parcel':<8}{'predicted':>11}{'actual':>9}{'ratio':>8}{'error':>8}{'peak pred.':>12}{'peak act.':>11}")
    worst = 0.0
    for f in forecasts(campaign):
        actual, predicted = f["actual_s"], f["predicted_s"]
        assert isinstance(actual, float) and isinstance(predicted, float)
        error = (actual - predicted) / actual
        worst = max(worst, abs(error))
        peaks = f"{f['predicted_peak'] / 2**20:>10.0f}MB{(f['actual_peak'] or 0) / 2**20:>9.0f}MB"
        print(f"    {f['label']!s:<8}{predicted:>10.1f}s{actual:>8.1f}s{predicted / actual:>7.2f}x{error:>+8.0%}{peaks}")
    return worst


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("/work/bench-data"))
    ap.add_argument("--scales", default="medium,large")
    ap.add_argument("--parcels", type=int, default=3)
    args = ap.parse_args()
    verdicts = []
    for scale in args.scales.split(","):
        campaign = ensure_world(args.data, scale)
        work = load_config(campaign).work_dir
        for name in (MEASUREMENTS, PREDICTIONS):
            (work / name).unlink(missing_ok=True)
        log(f"{scale}: validating twice, {args.parcels} parcels")
        print(f"{scale}:")
        run(campaign, args.parcels, "1. predicted from the sample")
        worst = run(campaign, args.parcels, "2. predicted from run 1's measurements")
        verdicts.append(f"{scale}: worst parcel {worst:.0%} off after calibration (target <= {TARGET:.0%}: {'ok' if worst <= TARGET else 'OVER TARGET'})")
    print("\n" + "\n".join(verdicts))


if __name__ == "__main__":
    main()
