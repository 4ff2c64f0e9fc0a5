"""k8s-firstboot: render install-time artifacts that bootstrap a CRI-O + kubeadm node on first boot."""

from pathlib import Path

# the folder of this file: gen runs from a checkout or an installed wheel, never from a zip (its templates and
# schema must be files), and importlib.resources would cost every command ~13 ms of imports to say the same
PACKAGE_DIR = Path(__file__).resolve().parent
# An installed wheel carries templates/ and schema/ under generator/share/ (pyproject.toml maps them there);
# a checkout keeps them at the top of the repository, where the project's layout puts them.
_SHIPPED = PACKAGE_DIR / "share"
RESOURCE_ROOT = _SHIPPED if (_SHIPPED / "templates").is_dir() else PACKAGE_DIR.parent
TEMPLATES_DIR = RESOURCE_ROOT / "templates"
SCHEMA_PATH = RESOURCE_ROOT / "schema" / "profile.schema.json"
DATA_DIR = PACKAGE_DIR / "data"


def package_version() -> str:
    """The installed distribution's version (importlib.metadata costs tens of ms: only when asked)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("k8s-firstboot")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "0+checkout"
