"""Cold start of `gen ks` against its floor, measured in the same run on the same machine.

The floor is a bare Python importing what any render needs: jinja2, yaml, jsonschema and the command-line
parser. That parser is argparse since gen left typer; a floor that kept importing typer would count ~20 ms that
gen no longer spends, and flatter the ratio. The ratio (gen ks / floor, medians) is the figure to watch;
absolute times depend on the machine and its load. The CPU time of each run (user + system, from wait4) is
printed beside it: on a shared machine other people's work stretches wall time more than CPU time.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "15"))
GOAL = 1.5  # issue 11: a cold `gen ks` at most 1.5x the bare imports
FLOOR = "import argparse, jinja2, yaml, jsonschema"


def timed_run(argv: list[str], env: dict) -> tuple[float, float]:
    """(wall, CPU) seconds of one run; CPU is user + system time of the child, from wait4."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise subprocess.CalledProcessError(os.waitstatus_to_exitcode(status), argv)
    return wall, usage.ru_utime + usage.ru_stime


def medians(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "K8S_FIRSTBOOT_SECRETS_DIR": str(Path(tmp) / "secrets"),
               # a user's gen has bytecode for its modules (pip compiles them; Python writes them on the first
               # run) and, after its first render, compiled templates: both are kept here, not in ~ or the checkout
               "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache"), "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        os.makedirs(env["K8S_FIRSTBOOT_SECRETS_DIR"], mode=0o700)
        floor_argv = [sys.executable, "-c", FLOOR]
        ks = [sys.executable, "-m", "generator", "ks", "profiles/master.yaml", "-o", str(Path(tmp) / "master.ks")]
        # the first runs make the cluster's secrets and the caches, as a user's first render does
        timed_run(floor_argv, env)
        first = timed_run(ks, env)
        floor_runs, gen_runs = [], []
        for _ in range(RUNS):  # interleaved, so a change in the machine's load hits both alike
            floor_runs.append(timed_run(floor_argv, env))
            gen_runs.append(timed_run(ks, env))
    floor, gen_ks = medians(floor_runs), medians(gen_runs)
    print(f"medians of {RUNS} runs                           wall ms   CPU ms")
    print(f"floor ({FLOOR}): {floor[0] * 1000:7.1f}  {floor[1] * 1000:7.1f}")
    print(f"gen ks profiles/master.yaml (cold):              {gen_ks[0] * 1000:7.1f}  {gen_ks[1] * 1000:7.1f}")
    print(f"ratio: {gen_ks[0] / floor[0]:.2f}  (goal: at most {GOAL}); in CPU time: {gen_ks[1] / floor[1]:.2f}")
    print(f"(the first render, which made the secrets, bytecode and template cache: {first[0] * 1000:.1f} ms wall)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
