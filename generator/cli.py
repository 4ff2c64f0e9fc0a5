"""Command line: a thin shell over generator.pipeline and the carriers. Exit 0 ok, 2 bad input, 1 bug.

argparse rather than typer: typer (0.29) builds a pydantic TypeAdapter for each option it parses, and importing
pydantic and building those cost a `gen ks` more than the rest of its work (bench/cold_start.py measures it).
"""

import argparse
import os
import sys
from pathlib import Path

from generator import SCHEMA_PATH
from generator.emit import write_artifact
from generator.errors import ProfileError, UsageError
from generator.report import FORMATS, print_text

DESCRIPTION = "Render Kickstart and cloud-init artifacts that bootstrap CRI-O + kubeadm nodes on first boot."


def ks_command(profile: Path, output: Path | None, secrets_dir: Path | None, node: str | None):
    """Kickstart for the node PROFILE describes."""
    from generator.kickstart import render_kickstart
    from generator.pipeline import node_from_profile

    node = node_from_profile(profile, secrets_dir, node_name=node)
    write_artifact(output, render_kickstart(node))
    print_text(node.warnings)


def versions_command():
    """The supported matrix: Kubernetes minor x OS, with CRI-O minor, package repositories and kubeadm API."""
    from generator.versions import format_matrix

    print(format_matrix(), end="")


def cloud_init_command(profile: Path, output: Path | None, secrets_dir: Path | None, gzip: bool, base64: bool,
                       mime: bool, extra_script: list[Path], node: str | None):
    """cloud-init user-data (#cloud-config) for the node PROFILE describes."""
    from generator.cloudinit import render_user_data
    from generator.pipeline import node_from_profile
    from generator.userdata import encode, mime_archive, read_script

    scripts = [read_script(path) for path in extra_script]  # bad input first: then nothing is made
    node = node_from_profile(profile, secrets_dir, node_name=node)
    text = render_user_data(node)
    if mime or scripts:
        text = mime_archive(text, scripts)
    write_artifact(output, encode(text, gzip_it=gzip, base64_it=base64))
    print_text(node.warnings)


def plan_command(profile: Path, secrets_dir: Path | None, node: str | None):
    """The steps this host will run, phase by phase."""
    from generator.pipeline import node_from_profile
    from generator.plan_report import plan_notes, plan_text

    node = node_from_profile(profile, secrets_dir, create_secrets=False, node_name=node)  # a dry run makes nothing
    sys.stdout.write(plan_text(node))
    print_text(plan_notes(node, profile, secrets_dir))


def validate_command(profiles: list[Path], secrets_dir: Path | None, strict: bool, output_format: str) -> int:
    """Check profiles (schema, rules, rendered artifacts); prints errors, warnings and notes; exit 2 on errors."""
    from generator import report
    from generator.validate import validate_profiles

    problems = validate_profiles(profiles, secrets_dir)
    if strict:
        problems = report.strict(problems)
    (report.print_json if output_format == "json" else report.print_text)(problems)
    return report.exit_code(problems)


def build_command(paths: list[Path], output: Path, secrets_dir: Path | None, media: bool, gzip: bool, base64: bool,
                  jobs: int | None):
    """Every node profile under PATHs into DIR: Kickstarts, user-data, a PXE tree, boot media, a manifest."""
    import signal

    from generator.build import build

    def stop(signum, _frame):  # as Ctrl-C does: the build's children and its half-written folder go first
        raise SystemExit(128 + signum)

    # (a signal ignored when gen started - nohup, a background job - stays ignored)
    stopping = [signum for signum in (signal.SIGTERM, signal.SIGHUP) if signal.getsignal(signum) != signal.SIG_IGN]
    previous = [signal.signal(signum, stop) for signum in stopping]
    try:
        report = build(paths, output, secrets_dir, media=media, gzip_it=gzip, base64_it=base64, jobs=jobs)
    finally:
        for signum, handler in zip(stopping, previous):
            signal.signal(signum, handler)
    print_text(report.problems)
    print(report.summary)


def import_kubespray_command(hosts: Path, output: Path | None, prefix: int, extends: str | None):
    """A cluster file with `nodes:` from a Kubespray hosts.yaml (kube_control_plane, kube_node, ip, mac)."""
    from generator.kubespray import import_hosts

    write_artifact(output, import_hosts(hosts, prefix, extends), private=False)  # names and addresses only


def token_renew_command(profile: Path, secrets_dir: Path | None):
    """New bootstrap token for PROFILE's cluster (the CAs stay); then render the joining nodes again."""
    from generator.pipeline import node_from_profile
    from generator.secrets import renew_token, secrets_path

    node = node_from_profile(profile, secrets_dir, create_secrets=False)  # its cluster and token lifetime
    if node.join.from_profile:
        raise UsageError(f"{profile}: this profile joins with cluster.join.token; put a new token there instead")
    if not secrets_path(node.cluster, secrets_dir).exists():
        raise UsageError(f"cluster {node.cluster} has no secrets file yet in "
                         f"{secrets_path(node.cluster, secrets_dir).parent}; render a node first")
    renewed = renew_token(node.cluster, secrets_dir)
    # stdout only: the running control plane must learn the token before nodes rendered with it can join
    print(f"renewed the bootstrap token of cluster {node.cluster}; render its joining nodes again (gen build ...)")
    print("make it known to the running cluster, on a control plane:")
    print(f"  kubeadm token create {renewed.token} --ttl {node.kube.token_ttl}")


def schema_command():
    """Print the profile JSON Schema (for editors)."""
    sys.stdout.write(SCHEMA_PATH.read_text(encoding="utf-8"))


class _PrintVersion(argparse.Action):
    """--version: the package version is looked up only when asked (importlib.metadata costs tens of ms)."""

    def __call__(self, parser, namespace, values, option_string=None):
        from generator import package_version

        print(f"gen (k8s-firstboot) {package_version()}")
        parser.exit()


def _prefix_length(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 32:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IPv4 prefix length (1 to 32), e.g. 24")
    return int(text)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes (1 or more), e.g. 2")
    return int(text)


def _first_line(function) -> str:
    return function.__doc__.split("\n", 1)[0]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gen", description=DESCRIPTION)
    parser.add_argument("--version", nargs=0, action=_PrintVersion, default=argparse.SUPPRESS,
                        help="Print the version and exit.")
    # main() takes --debug from anywhere on the command line before parsing; here it is for --help
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="Show the traceback of an internal error (exit 1).")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    def command(name: str, function, group=commands) -> argparse.ArgumentParser:
        sub = group.add_parser(name, help=_first_line(function), description=function.__doc__)
        sub.set_defaults(run=function)
        return sub

    def secrets_dir(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--secrets-dir", type=Path, metavar="DIR",
                         help="Where cluster secrets files live (default: $K8S_FIRSTBOOT_SECRETS_DIR, "
                              "else ~/.local/state/k8s-firstboot).")

    def node(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--node", metavar="HOST",
                         help="Of a cluster file that lists its nodes (nodes:, nodes_csv:), the node HOST.")

    def output(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("-o", "--output", type=Path, metavar="FILE", help="Write to this file (0600) instead of stdout.")

    ks = command("ks", ks_command)
    ks.add_argument("profile", type=Path, metavar="PROFILE")
    output(ks)
    secrets_dir(ks)
    node(ks)

    cloud_init = command("cloud-init", cloud_init_command)
    cloud_init.add_argument("profile", type=Path, metavar="PROFILE")
    output(cloud_init)
    secrets_dir(cloud_init)
    node(cloud_init)
    cloud_init.add_argument("--gzip", action="store_true", help="gzip the user-data (cloud-init reads it; for size limits).")
    cloud_init.add_argument("--base64", action="store_true", help="base64 text (after --gzip), for APIs that want it encoded.")
    cloud_init.add_argument("--mime", action="store_true", help="A MIME multi-part archive (as cloud-init make-mime builds).")
    cloud_init.add_argument("--extra-script", type=Path, action="append", default=[], metavar="FILE",
                            help="Add FILE as a text/x-shellscript part (repeatable; implies --mime).")

    plan = command("plan", plan_command)
    plan.add_argument("profile", type=Path, metavar="PROFILE")
    secrets_dir(plan)
    node(plan)

    validate = command("validate", validate_command)
    validate.add_argument("profiles", type=Path, nargs="+", metavar="PROFILE")
    secrets_dir(validate)
    validate.add_argument("--strict", action="store_true", help="Treat warnings as errors (exit 2).")
    validate.add_argument("--format", dest="output_format", choices=FORMATS, default="text",
                          help="text: one problem a line on stderr; json: a list on stdout.")

    build = command("build", build_command)
    build.add_argument("paths", type=Path, nargs="+", metavar="PATH")
    build.add_argument("-o", "--output", type=Path, required=True, metavar="DIR",
                       help="Folder for the tree; a previous build there is replaced whole (README.md, gen build).")
    secrets_dir(build)
    build.add_argument("--media", action="store_true",
                       help="Also a cidata (NoCloud) and an OEMDRV (Kickstart) ISO per node, in media/.")
    build.add_argument("--gzip", action="store_true", help="gzip the user-data files (cloud-init reads it; for size limits).")
    build.add_argument("--base64", action="store_true", help="base64 text user-data (after --gzip), for APIs that want it.")
    build.add_argument("-j", "--jobs", type=_positive, metavar="N",
                       help="Processes that render the nodes of a large build (default: one per CPU, at most 8).")

    importer = commands.add_parser("import", help="Make a cluster file from another tool's inventory.",
                                   description="Make a cluster file from another tool's inventory.")
    kubespray = command("kubespray", import_kubespray_command,
                        importer.add_subparsers(title="commands", metavar="COMMAND", required=True))
    kubespray.add_argument("hosts", type=Path, metavar="HOSTS_YAML")
    output(kubespray)
    kubespray.add_argument("--prefix", type=_prefix_length, required=True, metavar="N",
                           help="Prefix length of the node network (Kubespray's ip has none), e.g. 24.")
    kubespray.add_argument("--extends", metavar="FILE",
                           help="A cluster file (relative to the output) holding the shared settings.")

    token = commands.add_parser("token", help="The cluster's bootstrap token.", description="The cluster's bootstrap token.")
    renew = command("renew", token_renew_command, token.add_subparsers(title="commands", metavar="COMMAND", required=True))
    renew.add_argument("profile", type=Path, metavar="PROFILE")
    secrets_dir(renew)

    command("versions", versions_command)
    command("schema", schema_command)
    return parser


def main() -> None:
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    parser = _parser()
    if len(sys.argv) < 2:  # a bare `gen`: what it can do, on stderr as for any other refused command line
        parser.print_help(sys.stderr)
        sys.exit(2)
    try:
        options = vars(parser.parse_args(sys.argv[1:]))  # usage errors exit 2 from here, with the usage line
        run = options.pop("run")
        code = run(**options)  # a command that decides its own exit status returns it
        sys.exit(code if isinstance(code, int) else 0)
    except ProfileError as exc:
        print_text(exc.problems)
        sys.exit(2)
    except UsageError as exc:
        print(f"gen: {exc}", file=sys.stderr)
        sys.exit(2)
    except BrokenPipeError:  # the reader left (`gen ... | head`): no more output, and no traceback at exit
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python flushes stdout at exit
        except (OSError, ValueError):
            pass
        sys.exit(141)  # 128 + SIGPIPE, as a shell tool killed by it reports
    except Exception as exc:  # noqa: BLE001 - the one place that turns bugs into exit 1
        if debug:
            raise
        print(f"gen: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        sys.exit(1)
