"""`gen build` on a large inventory against its floor, measured in the same run on the same machine.

The inventory is made here, like profiles/fleet: a cluster file with three control planes behind a virtual
IP and the workers in a CSV file it names. `gen build` writes both carriers (Kickstart and user-data) and the
network-config of every node.

The floor (issue 12) is what any generator of these files must spend at least: a Python process that loads
pre-compiled Jinja templates (compiled before the clock starts, loaded by jinja2.ModuleLoader), parses the same
inventory with libyaml (yaml.CSafeLoader) and the csv module, and writes as many files of the same sizes as
gen build wrote. Its templates are gen's own output for one node of each role, with the host name, MAC and
address turned into variables, so the bytes written match gen's within a few per cent (both are printed).

Printed: nodes/s, the ratio of the medians (gen build / floor; goal at most 5), for gen build as a user runs it
(one process per CPU from 100 nodes) and in one process (-j 1), and the peak RSS of gen build at 500 and 5000
nodes (goal under 200 MB at 5000), from wait4's ru_maxrss: the largest of gen and the processes it forked.
CPU time counts every process.

Both write into TMPDIR (default /tmp). On this machine's disk the time to create 1500 files swings between runs
(the floor took 0.13-0.56 s for the same work in one day) and it does not hit gen and the floor alike; a tmpfs
(TMPDIR=/dev/shm) leaves only the CPU work, where the ratio is steadier. Nothing is
asserted: absolute figures depend on the machine and its load. BENCH_NODES and BENCH_RUNS change the sizes.
"""

import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jinja2

ROOT = Path(__file__).resolve().parent.parent
NODES = int(os.environ.get("BENCH_NODES", "500"))
LARGE = int(os.environ.get("BENCH_LARGE_NODES", "5000"))  # 0 skips the large run
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
GOAL_RATIO = 5  # issue 12: at most 5x the floor
JOBS = min(len(os.sched_getaffinity(0)), 8)  # what gen build uses by default: one process per CPU
GOAL_RSS_MB = 200  # issue 12: peak RSS under 200 MB at 5000 nodes
CONTROL_PLANES = 3
SUFFIXES = (".ks", ".user-data", ".network-config")
FOLDERS = {".ks": "http/ks", ".user-data": "cloud", ".network-config": "cloud"}  # where gen build puts each

CLUSTER = """\
cluster:
  name: bench
  first_control_plane: k8s-cp-01
  virtual_ip:
    address: 10.20.0.10
os:
  distro: rocky
  version: "9"
  selinux: enforcing
  firewall: ports
  disk: sda
kubernetes:
  version: "1.36"
  pod_cidr: 10.244.0.0/16
  service_cidr: 10.96.0.0/12
  control_plane_endpoint: 10.20.0.10:6443
cni:
  plugin: calico
  version: "3.32"
network:
  gateway: 10.20.0.1
  nameservers: [10.20.0.1]
users:
  root:
    locked: true
  admin:
    name: ops
    sudo: nopasswd
    ssh_keys:
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL1tgXeSaAhN7vGpjPiXOBDOk+2uzkPC18HSs5CMlMFk ops@bench
nodes:
{control_planes}nodes_csv: workers.csv
"""


def _mac(i: int) -> str:
    return "52:54:00:" + ":".join(f"{b:02x}" for b in i.to_bytes(3, "big"))


def _address(i: int) -> str:
    # a /16 holds 5000 nodes; .0.1-.0.99 stay for the gateway, the virtual IP and the control planes
    return f"10.20.{1 + i // 250}.{1 + i % 250}/16"


def write_inventory(folder: Path, nodes: int) -> None:
    """cluster.yaml (the control planes listed in it) and workers.csv (every other node)."""
    folder.mkdir(parents=True)
    listed = "".join(f"  - hostname: k8s-cp-{n:02d}\n    role: control-plane\n    mac: \"{_mac(n)}\"\n"
                     f"    address: 10.20.0.{10 + n}/16\n" for n in range(1, CONTROL_PLANES + 1))
    (folder / "cluster.yaml").write_text(CLUSTER.format(control_planes=listed))
    with open(folder / "workers.csv", "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["hostname", "role", "mac", "address"])
        for i in range(nodes - CONTROL_PLANES):
            out.writerow([f"k8s-w-{i:05d}", "worker", _mac(0x10000 + i), _address(i)])


def timed_run(argv: list[str], env: dict, quiet: bool = False) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one child process, from wait4 (that child alone)."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL if quiet else None)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise subprocess.CalledProcessError(os.waitstatus_to_exitcode(status), argv)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


# --- the floor -------------------------------------------------------------------------------------------

FLOOR_SCRIPT = """
import csv, os, sys, jinja2, yaml
templates, inventory, out = sys.argv[1:4]
env = jinja2.Environment(loader=jinja2.ModuleLoader(templates), keep_trailing_newline=True)
with open(os.path.join(inventory, "cluster.yaml")) as f:
    cluster = yaml.load(f, Loader=yaml.CSafeLoader)
nodes = [{"role": "worker", **n} for n in cluster.pop("nodes")]
with open(os.path.join(inventory, cluster.pop("nodes_csv")), newline="") as f:
    nodes += list(csv.DictReader(f))
suffixes = %(suffixes)r
compiled = {(role, s): env.get_template(role + s) for role in ("control-plane", "worker") for s in suffixes}
for node in nodes:
    data = {**cluster, **node}
    for s in suffixes:
        with open(os.path.join(out, node["hostname"] + s), "w") as f:
            f.write(compiled[node["role"], s].render(node=data))
""" % {"suffixes": SUFFIXES}


def floor_templates(built: Path, inventory: Path, target: Path) -> None:
    """Jinja templates made of gen's own output for the first node of each role, compiled into `target`.

    The host name, MAC and address become variables; the rest is constant text, as most of any carrier is."""
    with open(inventory / "workers.csv", newline="") as handle:
        worker = next(csv.DictReader(handle))
    samples = {"control-plane": {"hostname": "k8s-cp-01", "mac": _mac(1), "address": "10.20.0.11/16"},
               "worker": worker}
    sources = {}
    for role, node in samples.items():
        for suffix in SUFFIXES:
            text = (built / FOLDERS[suffix] / (node["hostname"] + suffix)).read_text()
            text = "{% raw %}" + text + "{% endraw %}"
            for key in ("hostname", "mac", "address"):
                text = text.replace(node[key], "{% endraw %}{{ node." + key + " }}{% raw %}")
            sources[role + suffix] = text
    env = jinja2.Environment(loader=jinja2.DictLoader(sources), keep_trailing_newline=True)
    env.compile_templates(str(target), zip=None)


def tree_bytes(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


# --- the runs --------------------------------------------------------------------------------------------

def measure(tmp: Path, nodes: int, runs: int, env: dict, with_floor: bool) -> dict:
    inventory = tmp / f"inventory-{nodes}"
    write_inventory(inventory, nodes)
    out = tmp / "out"
    build = [sys.executable, "-m", "generator", "build", str(inventory), "-o", str(out)]
    # the first run makes the cluster's secrets and the template cache, as a user's first build does
    shutil.rmtree(out, ignore_errors=True)
    timed_run(build, env, quiet=True)  # (its only words: where the secrets were made)
    result = {"nodes": nodes, "gen_files": tree_bytes(out)}
    templates = tmp / "floor-templates"
    if with_floor:
        shutil.rmtree(templates, ignore_errors=True)
        floor_templates(out, inventory, templates)
    floor_out = tmp / "floor-out"
    floor = [sys.executable, "-c", FLOOR_SCRIPT, str(templates), str(inventory), str(floor_out)]
    if with_floor:  # its first run writes the bytecode of jinja2 and yaml, as gen's first run did for gen
        floor_out.mkdir()
        timed_run(floor, env)
    gen_runs, single_runs, floor_runs = [], [], []
    for _ in range(runs):  # interleaved, so a change in the machine's load hits all alike
        shutil.rmtree(out, ignore_errors=True)
        gen_runs.append(timed_run(build, env))
        if with_floor:
            shutil.rmtree(out, ignore_errors=True)
            single_runs.append(timed_run(build + ["-j", "1"], env))
            shutil.rmtree(floor_out, ignore_errors=True)
            floor_out.mkdir()
            floor_runs.append(timed_run(floor, env))
    result["gen"] = [statistics.median(r[i] for r in gen_runs) for i in range(2)] + [max(r[2] for r in gen_runs)]
    if with_floor:
        result["single"] = [statistics.median(r[i] for r in single_runs) for i in range(2)]
    if with_floor:
        result["floor"] = [statistics.median(r[i] for r in floor_runs) for i in range(2)]
        result["floor_files"] = tree_bytes(floor_out)
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(inventory)
    return result


def main() -> int:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        env = {**os.environ, "K8S_FIRSTBOOT_SECRETS_DIR": str(tmp / "secrets"),
               "PYTHONPYCACHEPREFIX": str(tmp / "pycache"), "XDG_CACHE_HOME": str(tmp / "cache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        os.makedirs(env["K8S_FIRSTBOOT_SECRETS_DIR"], mode=0o700)
        small = measure(tmp, NODES, RUNS, env, with_floor=True)
        large = measure(tmp, LARGE, 1, env, with_floor=False) if LARGE else None
    (wall, cpu, rss), (floor_wall, floor_cpu) = small["gen"], small["floor"]
    print(f"gen build, {NODES} nodes ({CONTROL_PLANES} control planes, the rest from CSV), medians of {RUNS} runs")
    print(f"  files written: gen {small['gen_files'][0]} ({small['gen_files'][1] / 1e6:.1f} MB), "
          f"floor {small['floor_files'][0]} ({small['floor_files'][1] / 1e6:.1f} MB)")
    print(f"                           wall s   CPU s")
    print(f"  floor (compiled Jinja):  {floor_wall:6.2f}  {floor_cpu:6.2f}")
    single_wall, single_cpu = small["single"]
    print(f"  gen build -j 1:          {single_wall:6.2f}  {single_cpu:6.2f}   {NODES / single_wall:.0f} nodes/s")
    print(f"  gen build ({JOBS} jobs):      {wall:6.2f}  {cpu:6.2f}   {NODES / wall:.0f} nodes/s")
    print(f"  ratio: {wall / floor_wall:.1f}  (goal: at most {GOAL_RATIO}); one process: {single_wall / floor_wall:.1f}; "
          f"in CPU time (all processes): {cpu / floor_cpu:.1f}")
    print(f"  peak RSS: {rss:.0f} MB")
    if large:
        (wall, cpu, rss) = large["gen"]
        print(f"gen build, {LARGE} nodes, one run: {wall:.1f} s wall, {cpu:.1f} s CPU, {LARGE / wall:.0f} nodes/s, "
              f"peak RSS {rss:.0f} MB (goal: under {GOAL_RSS_MB} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
