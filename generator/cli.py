"""Command line: a thin shell over generator.pipeline and the carriers. Exit 0 ok, 2 bad input, 1 bug."""

import sys
from pathlib import Path
from typing import Optional

import typer

from generator import SCHEMA_PATH
from generator.emit import write_artifact
from generator.errors import ProfileError, UsageError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Render Kickstart and cloud-init artifacts that bootstrap CRI-O + kubeadm nodes on first boot.")

SecretsDir = typer.Option(None, "--secrets-dir", envvar="K8S_FIRSTBOOT_SECRETS_DIR",
                          help="Where cluster secrets files live (default: ~/.local/state/k8s-firstboot).")
Output = typer.Option(None, "-o", "--output", help="Write to this file (0600) instead of stdout.")


def _print_version(value: bool) -> None:
    if value:
        from generator import package_version

        print(f"gen (k8s-firstboot) {package_version()}")
        raise typer.Exit()


@app.callback()
def common_options(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an internal error (exit 1)."),
):
    """Render Kickstart and cloud-init artifacts that bootstrap CRI-O + kubeadm nodes on first boot."""


@app.command("ks")
def ks_command(profile: Path, output: Optional[Path] = Output, secrets_dir: Optional[Path] = SecretsDir):
    """Kickstart for the node PROFILE describes."""
    from generator.kickstart import render_kickstart
    from generator.pipeline import node_from_profile

    node = node_from_profile(profile, secrets_dir)
    write_artifact(output, render_kickstart(node))


@app.command("versions")
def versions_command():
    """The supported matrix: Kubernetes minor x OS, with CRI-O minor, package repositories and kubeadm API."""
    from generator.versions import format_matrix

    print(format_matrix(), end="")


@app.command("cloud-init")
def cloud_init_command(
    profile: Path, output: Optional[Path] = Output, secrets_dir: Optional[Path] = SecretsDir,
    gzip: bool = typer.Option(False, "--gzip", help="gzip the user-data (cloud-init reads it; for size limits)."),
    base64: bool = typer.Option(False, "--base64", help="base64 text (after --gzip), for APIs that want it encoded."),
    mime: bool = typer.Option(False, "--mime", help="A MIME multi-part archive (as cloud-init make-mime builds)."),
    extra_script: list[Path] = typer.Option([], "--extra-script", metavar="FILE",
                                            help="Add FILE as a text/x-shellscript part (repeatable; implies --mime)."),
):
    """cloud-init user-data (#cloud-config) for the node PROFILE describes."""
    from generator.cloudinit import render_user_data
    from generator.pipeline import node_from_profile
    from generator.userdata import encode, mime_archive, read_script

    scripts = [read_script(path) for path in extra_script]  # bad input first: then nothing is made
    node = node_from_profile(profile, secrets_dir)
    text = render_user_data(node)
    if mime or scripts:
        text = mime_archive(text, scripts)
    write_artifact(output, encode(text, gzip_it=gzip, base64_it=base64))


@app.command("plan")
def plan_command(profile: Path, secrets_dir: Optional[Path] = SecretsDir):
    """The steps this host will run, phase by phase."""
    from generator.pipeline import node_from_profile
    from generator.kickstart import erased_disks
    from generator.plan import plan

    from generator.secrets import missing_note

    node = node_from_profile(profile, secrets_dir, create_secrets=False)  # a dry run makes nothing
    print(f"{node.hostname}: {node.role} ({node.action}) of cluster {node.cluster} — {node.os.name}, "
          f"Kubernetes {node.kube.version}, CRI-O {node.kube.minor}, {node.cni.plugin} {node.cni.version}")
    if not node.join.from_profile:
        note = missing_note(node.cluster, secrets_dir)
        if note:
            print(f"note: {note}")
    if node.is_control_plane:
        from generator.cloudinit import cloud_instance

        kickstart_address = node.kube.advertise_address or "the default route's address at boot"
        cloud_address = cloud_instance(node).kube.advertise_address or "the default route's address at boot"
        print(f"API server advertises: {kickstart_address} (Kickstart); {cloud_address} (cloud-init)"
              + ("" if node.kube.advertise_explicit else "; kubernetes.advertise_address pins it"))
    print(f"Kickstart install erases: {erased_disks(node)}")
    phase = None
    for number, step in enumerate(plan(node), 1):
        if step.phase != phase:
            phase = step.phase
            where = ("in the installer's %post / cloud-init runcmd" if phase == "prepare"
                     else "on first boot (k8s-firstboot.service / cloud-init runcmd)")
            print(f"\n{phase} — {where}")
        print(f"  {number:2}. {step.title}")
    for warning in node.warnings:
        print(f"\nwarning: {warning}")


@app.command("validate")
def validate_command(profiles: list[Path], secrets_dir: Optional[Path] = SecretsDir,
                     strict: bool = typer.Option(False, "--strict", help="Treat warnings as problems (exit 2).")):
    """Check profiles (schema, rules, rendered artifacts); prints problems, exit 2 if any."""
    from generator.validate import validate_profiles

    problems, notes = validate_profiles(profiles, secrets_dir, strict)
    for note in notes:
        print(note)
    if problems:
        raise ProfileError(problems)


@app.command("build")
def build_command(paths: list[Path], output: Path = typer.Option(..., "-o", "--output", help="Directory for the artifacts."),
                  secrets_dir: Optional[Path] = SecretsDir):
    """Every node profile under PATHs into DIR, one artifact per node and format."""
    from generator.build import build

    for written in build(paths, output, secrets_dir):
        print(written)


token_app = typer.Typer(no_args_is_help=True, help="The cluster's bootstrap token.")
app.add_typer(token_app, name="token")


@token_app.command("renew")
def token_renew_command(profile: Path, secrets_dir: Optional[Path] = SecretsDir):
    """New bootstrap token for PROFILE's cluster (the CAs stay); then render the joining nodes again."""
    from generator.defaults import pick
    from generator.pipeline import checked_profile
    from generator.secrets import renew_token, secrets_path

    doc = checked_profile(profile)
    cluster = pick(doc.data.get("cluster") or {}, "name", "cluster")
    if (doc.data.get("cluster") or {}).get("join"):
        raise UsageError(f"{profile}: this profile joins with cluster.join.token; put a new token there instead")
    if not secrets_path(cluster, secrets_dir).exists():
        raise UsageError(f"cluster {cluster} has no secrets file yet in {secrets_path(cluster, secrets_dir).parent}; "
                         "render a node first")
    ttl = pick(doc.data.get("kubernetes") or {}, "token_ttl", "kubernetes")
    renewed = renew_token(cluster, secrets_dir)
    # stdout only: the running control plane must learn the token before nodes rendered with it can join
    print(f"renewed the bootstrap token of cluster {cluster}; render its joining nodes again (gen build ...)")
    print("make it known to the running cluster, on a control plane:")
    print(f"  kubeadm token create {renewed.token} --ttl {ttl}")


@app.command("schema")
def schema_command():
    """Print the profile JSON Schema (for editors)."""
    sys.stdout.write(SCHEMA_PATH.read_text(encoding="utf-8"))


def main() -> None:
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    try:
        app(standalone_mode=False)
    except ProfileError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        sys.exit(2)
    except UsageError as exc:
        print(f"gen: {exc}", file=sys.stderr)
        sys.exit(2)
    except (typer.Exit, SystemExit) as exc:
        sys.exit(getattr(exc, "exit_code", getattr(exc, "code", 0)))
    except typer.Abort:
        sys.exit(1)
    except typer.TyperException as exc:  # usage errors: bad options, missing arguments
        show = getattr(exc, "show", None)
        if show:
            show()
        else:
            print(f"gen: {exc}", file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", 2))
    except Exception as exc:  # noqa: BLE001 - the one place that turns bugs into exit 1
        if debug:
            raise
        print(f"gen: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        sys.exit(1)
