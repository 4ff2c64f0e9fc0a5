"""The package works when installed: a wheel in a fresh venv renders from a folder outside the checkout."""

import shutil
import subprocess
import sys
import venv

import yaml

from tests.support.common import ROOT
from generator.verify import parse_kickstart


def test_wheel_renders_from_another_directory(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next(dist.glob("k8s_firstboot-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    subprocess.run([env_dir / "bin/pip", "install", "--quiet", str(wheel)], check=True, capture_output=True)

    # a user's own folder: the example profiles and nothing of the repository beside them
    work = tmp_path / "site"
    work.mkdir()
    for name in ("cluster.yaml", "master.yaml", "worker.yaml"):
        shutil.copy(ROOT / "profiles" / name, work / name)
    gen = str(env_dir / "bin/gen")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "K8S_FIRSTBOOT_SECRETS_DIR": str(tmp_path / "secrets")}

    def run(*args: str) -> subprocess.CompletedProcess:
        result = subprocess.run([gen, *args], cwd=work, env=env, capture_output=True, text=True)
        assert result.returncode == 0, f"gen {' '.join(args)}: {result.stderr}"
        return result

    run("ks", "master.yaml", "-o", "master.ks")
    parse_kickstart((work / "master.ks").read_text(), "RHEL9")
    user_data = run("cloud-init", "worker.yaml").stdout
    assert user_data.startswith("#cloud-config\n")
    assert "write_files" in yaml.safe_load(user_data)
    assert '"$schema"' in run("schema").stdout
    assert run("--version").stdout.startswith("gen (k8s-firstboot) ")
    # the installed copy, not the checkout, did the work
    where = subprocess.run([env_dir / "bin/python", "-c", "import generator; print(generator.TEMPLATES_DIR)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(env_dir)), where
