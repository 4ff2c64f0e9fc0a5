"""No secret of a node reaches a log, the console, the status file or the boot's output (the journal).

The rehearsal boots an HA cluster's first control plane (DHCP, so kubeadm's proxy check fires), a joining
control plane and a worker, behind a proxy with credentials and with a phone-home URL with credentials, and
makes kubeadm and curl fail once each so the retry and failure paths print too. The stand-ins print what
the real tools print, secrets included (kubeadm init's join line, kubeadm's HTTPProxy warning).
"""

import re
import shutil

import pytest
import yaml

from tests.support.common import ROOT, need
from tests.support.rehearsal import run_first_boot
from tests.support.sandbox import Sandbox, bwrap_available

from generator import verify
from generator.kickstart import render_kickstart
from generator.pipeline import node_from_profile
from generator.render import node_files
from generator.secrets import load, secrets_path
from generator import node_paths as paths

PROXY_PASSWORD = "Pr0xyS3cretPass"
REPORT_PASSWORD = "R3portS3cretPass"
# where a node keeps what it says about itself: logs, status, banners (the secret stores themselves are not here)
LOG_PLACES = ("/var/log", paths.STATE_DIR, "/root", "/etc/issue.d", "/etc/motd.d")
FAULTS = {"cp1": ["1 kubeadm init", "1 curl"], "cp2": ["1 kubeadm join"], "worker1": ["1 kubeadm join", "1 curl"]}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")
    tree = tmp_path_factory.mktemp("profiles") / "ha"
    shutil.copytree(ROOT / "profiles/ha", tree)
    common = yaml.safe_load((tree / "cluster.yaml").read_text())
    common["proxy"] = {"http": f"http://squid:{PROXY_PASSWORD}@proxy.lan:3128"}
    common["bootstrap"] = {"report_url": f"https://status:{REPORT_PASSWORD}@mon.lan/k8s"}
    (tree / "cluster.yaml").write_text(yaml.safe_dump(common))
    cp1 = yaml.safe_load((tree / "cp1.yaml").read_text())
    cp1["network"] = {"bootproto": "dhcp"}  # the address kubeadm advertises is found at boot: not in no_proxy
    (tree / "cp1.yaml").write_text(yaml.safe_dump(cp1))
    secrets_dir = tmp_path_factory.mktemp("secrets")
    booted = {}
    for name, faults in FAULTS.items():
        node = node_from_profile(tree / f"{name}.yaml", secrets_dir)
        box = Sandbox(tmp_path_factory.mktemp(name))
        output = []
        for n, post in enumerate(verify.post_scripts(render_kickstart(node), "RHEL9")):
            (box.record / f"ks-script-{n}").write_text(post.script)
            result = box.run([post.interp, f"/opt/record/ks-script-{n}"])
            assert result.returncode == 0, result.stderr[-3000:]
            output += [result.stdout, result.stderr]
        for fault in faults:
            box.inject_fault(fault)
        result = run_first_boot(box)
        assert result.returncode == 0, (name, result.stderr[-3000:])
        booted[name] = (node, box, output + [result.stdout, result.stderr])
    return load(secrets_path("ha", secrets_dir)), booted


def secret_values(cluster_secrets, node) -> dict[str, str]:
    """Every secret the node carried, by a name for the failure message."""
    found = {"bootstrap token": cluster_secrets.token, "token secret": cluster_secrets.token.split(".")[1],
             "proxy password": PROXY_PASSWORD, "report password": REPORT_PASSWORD}
    for f in node_files(node):
        if not f.secret:
            continue
        if "PRIVATE KEY" in f.content:  # every line of the key's body, so a part of it shows too
            for i, line in enumerate(l for l in f.content.splitlines() if not l.startswith("-----")):
                found[f"{f.path} line {i}"] = line
        else:
            for doc in yaml.safe_load_all(f.content):
                for key, value in flatten(doc):
                    last = re.sub(r"\[\d+\]$", "", key).rsplit(".", 1)[-1]
                    if re.search(r"token|key|password", last, re.I) and isinstance(value, str):
                        found[f"{f.path} {key}"] = value
    return found


def flatten(value, prefix=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from flatten(v, f"{prefix}[{i}]")
    else:
        yield prefix, value


def said(box: Sandbox, output: list[str]) -> dict[str, str]:
    """What the node printed and logged: the boot's output, the console and every file of LOG_PLACES."""
    texts = {"boot output": "\n".join(output), "console": box.console()}
    for place in LOG_PLACES:
        folder = box.file(place)
        for path in folder.rglob("*") if folder.exists() else ():
            if path.is_file() and not path.is_symlink():
                texts[place + "/" + str(path.relative_to(folder))] = path.read_text(errors="replace")
    return texts


@pytest.mark.parametrize("name", list(FAULTS))
def test_no_secret_is_printed_or_logged(cluster, name):
    cluster_secrets, booted = cluster
    node, box, output = booted[name]
    secrets = secret_values(cluster_secrets, node)
    assert len(secrets) > 4 if node.is_control_plane else len(secrets) >= 4
    leaks = [(what, where) for where, text in said(box, output).items()
             for what, value in secrets.items() if value in text]
    assert leaks == []


def test_the_rehearsal_exercises_the_paths_that_print(cluster):
    _, booted = cluster
    _, cp1, cp1_output = booted["cp1"]
    printed = "\n".join(cp1_output)
    assert "kubeadm join" in printed and "--token" in printed      # init printed its join line
    assert "[WARNING HTTPProxy]" in printed                          # and its proxy warning
    assert "attempt 1 of 'init_once' failed" in printed
    _, _, worker_output = booted["worker1"]
    assert "attempt 1 of 'join_once' failed" in "\n".join(worker_output)
