#!/usr/bin/env python3
"""Extract the field tree of a Kubernetes config kind from its Go types, for tests/data/kube_api_fields/.

Not run in CI: run by hand and commit the YAML it writes. KubeletConfiguration, from a clone of kubernetes/kubelet
(the staging mirror of staging/src/k8s.io/kubelet, tagged kubernetes-1.N.M):

    python3 tests/tools/kube_api_fields.py KUBELET_CLONE kubernetes-1.27.0 > tests/data/kube_api_fields/kubelet/1.27.yaml

kubeadm's Init/Cluster/JoinConfiguration, from Go files (types.go of cmd/kubeadm/app/apis/kubeadm/v1betaN, plus
cmd/kubeadm/app/apis/bootstraptoken/v1/types.go where the API imports it), read as they are:

    python3 tests/tools/kube_api_fields.py kubeadm V1BETA4_TYPES.go BOOTSTRAPTOKEN_TYPES.go

It prints the `kinds:` mapping; the data file's header (api, source, minors) is written by hand.

The tree maps each JSON field name to a type: string, int, bool, float, duration, map, object (a type from
another package, not looked into), a nested mapping (a struct of this file) or a one-element list (a slice).
"""

import re
import subprocess
import sys

import yaml

STRUCT = re.compile(r"^type (\w+) struct \{\n(.*?)^\}", re.M | re.S)
ALIAS = re.compile(r"^type (\w+) (\w+)\s*$", re.M)
FIELD = re.compile(r'^\s*(?:(\w+)\s+)?([\w.*\[\]]+)\s+`json:"([^"]*)"', re.M)
BASIC = {"string": "string", "bool": "bool", "int": "int", "int32": "int", "int64": "int", "uint32": "int",
         "uint64": "int", "float32": "float", "float64": "float", "[]byte": "string",
         "metav1.Duration": "duration", "metav1.Time": "string",
         # string types of k8s.io/api/core/v1 (imported as v1 or corev1)
         "v1.HostPathType": "string", "corev1.HostPathType": "string", "corev1.PullPolicy": "string",
         # kubeadm's token type is a struct of two `json:"-"` fields with its own MarshalJSON to "id.secret"
         "BootstrapTokenString": "string"}
KUBEADM_KINDS = ("InitConfiguration", "ClusterConfiguration", "JoinConfiguration")
IMPORTED = re.compile(r"\bbootstraptokenv1\.")  # kubeadm's own package: its structs come from the other file


def parse(source: str) -> tuple[dict, dict]:
    source = IMPORTED.sub("", source)
    structs = {}
    for name, body in STRUCT.findall(source):
        body = re.sub(r"//.*", "", body)
        structs[name] = [(m.group(1), m.group(2), m.group(3)) for m in FIELD.finditer(body)]
    aliases = dict(ALIAS.findall(source))
    return structs, aliases


def resolve(go_type: str, structs: dict, aliases: dict, seen: tuple = ()):
    go_type = go_type.lstrip("*")
    if go_type.startswith("[]") and go_type != "[]byte":
        return [resolve(go_type[2:], structs, aliases, seen)]
    if go_type.startswith("map["):
        return "map"
    if go_type in BASIC:
        return BASIC[go_type]
    if go_type in aliases:
        return resolve(aliases[go_type], structs, aliases, seen)
    if go_type in structs and go_type not in seen:
        return fields(go_type, structs, aliases, seen + (go_type,))
    return "object"


def fields(name: str, structs: dict, aliases: dict, seen: tuple = ()) -> dict:
    tree = {}
    for field_name, go_type, tag in structs[name]:
        json_name = tag.split(",")[0]
        if json_name == "-":
            continue
        if "inline" in tag.split(",")[1:] or (field_name is None and not json_name):
            if go_type.endswith("TypeMeta"):
                tree.update(apiVersion="string", kind="string")
            else:
                inner = resolve(go_type, structs, aliases, seen)
                if not isinstance(inner, dict):
                    return "object"  # a type of another package inlined (kubeadm's EnvVar): not looked into
                tree.update(inner)
            continue
        tree[json_name] = resolve(go_type, structs, aliases, seen)
    return tree


def kubeadm_main(*paths: str) -> None:
    source = "\n".join(open(p, encoding="utf-8").read() for p in paths)
    structs, aliases = parse(source)
    print(yaml.safe_dump({"kinds": {k: fields(k, structs, aliases) for k in KUBEADM_KINDS}}, sort_keys=True), end="")


def main(clone: str, tag: str, path: str = "config/v1beta1/types.go", kind: str = "KubeletConfiguration") -> None:
    source = subprocess.run(["git", "-C", clone, "show", f"{tag}:{path}"], capture_output=True, text=True,
                            check=True).stdout
    structs, aliases = parse(source)
    print(f"# {kind} fields from kubernetes/kubelet {tag}:{path} (tests/tools/kube_api_fields.py)")
    print(yaml.safe_dump({"tag": tag, "source": f"kubernetes/kubelet {tag}:{path}", "kind": kind,
                          "fields": fields(kind, structs, aliases)}, sort_keys=True), end="")


if __name__ == "__main__":
    if sys.argv[1:2] == ["kubeadm"]:
        kubeadm_main(*sys.argv[2:])
    else:
        main(*sys.argv[1:])
