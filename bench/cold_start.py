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


def median_seconds(argv: list[str], env: dict) -> tuple[float, float]:
    """(wall, CPU) seconds of a run, each the median of RUNS runs."""
    wall, cpu = [], []
    for _ in range(RUNS):
        start = time.perf_counter()
        child = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        wall.append(time.perf_counter() - start)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            raise subprocess.CalledProcessError(child.returncode, argv)
        cpu.append(usage.ru_utime + usage.ru_stime)
    return statistics.median(wall), statistics.median(cpu)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "K8S_FIRSTBOOT_SECRETS_DIR": str(Path(tmp) / "secrets")}
        os.makedirs(env["K8S_FIRSTBOOT_SECRETS_DIR"], mode=0o700)
        ks = [sys.executable, "-m", "generator", "ks", "profiles/master.yaml", "-o", str(Path(tmp) / "master.ks")]
        subprocess.run(ks, check=True, env=env, cwd=ROOT)  # the cluster's secrets exist from here on, as in use
        floor = median_seconds([sys.executable, "-c", FLOOR], env)
        gen_ks = median_seconds(ks, env)
    print(f"medians of {RUNS} runs                           wall ms   CPU ms")
    print(f"floor ({FLOOR}): {floor[0] * 1000:7.1f}  {floor[1] * 1000:7.1f}")
    print(f"gen ks profiles/master.yaml (cold):              {gen_ks[0] * 1000:7.1f}  {gen_ks[1] * 1000:7.1f}")
    print(f"ratio: {gen_ks[0] / floor[0]:.2f}  (goal: at most {GOAL}); in CPU time: {gen_ks[1] / floor[1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
