"""Cold start of `gen ks` against its floor, measured in the same run on the same machine.

The floor is a bare Python importing what any render needs (jinja2, yaml, jsonschema, typer). The ratio
(gen ks / floor, medians) is the figure to watch; absolute times depend on the machine and its load.
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


def median_seconds(argv: list[str], env: dict) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(argv, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "K8S_FIRSTBOOT_SECRETS_DIR": str(Path(tmp) / "secrets")}
        os.makedirs(env["K8S_FIRSTBOOT_SECRETS_DIR"], mode=0o700)
        ks = [sys.executable, "-m", "generator", "ks", "profiles/master.yaml", "-o", str(Path(tmp) / "master.ks")]
        subprocess.run(ks, check=True, env=env, cwd=ROOT)  # the cluster's secrets exist from here on, as in use
        floor = median_seconds([sys.executable, "-c", "import jinja2, yaml, jsonschema, typer"], env)
        gen_ks = median_seconds(ks, env)
    ratio = gen_ks / floor
    print(f"floor (import jinja2, yaml, jsonschema, typer): {floor * 1000:7.1f} ms  (median of {RUNS})")
    print(f"gen ks profiles/master.yaml (cold):               {gen_ks * 1000:7.1f} ms  (median of {RUNS})")
    print(f"ratio: {ratio:.2f}  (goal: at most {GOAL})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
