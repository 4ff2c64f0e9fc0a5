"""k8s-firstboot: render install-time artifacts that bootstrap a CRI-O + kubeadm node on first boot."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_ROOT / "templates"
SCHEMA_PATH = PROJECT_ROOT / "schema" / "profile.schema.json"
DATA_DIR = Path(__file__).resolve().parent / "data"
