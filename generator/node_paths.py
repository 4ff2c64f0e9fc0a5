"""Where things live on the node: the one list of on-node paths.

Python imports these names, the templates read them as `paths.<NAME>` (a Jinja global) and the tests import
them, so a path is written here only. Data, no logic: any stage may import it.
"""

# the bootstrap's own
SCRIPT_PATH = "/usr/local/sbin/k8s-firstboot"
UNIT_PATH = "/etc/systemd/system/k8s-firstboot.service"
CONFIG_DIR = "/etc/k8s-firstboot"
STATE_DIR = "/var/lib/k8s-firstboot"       # the done marker, step records, downloads
DONE_MARKER = f"{STATE_DIR}/done"          # the script's $DONE_MARKER, the unit's ConditionPathExists
KUBEADM_CONFIG = f"{CONFIG_DIR}/kubeadm.yaml"
NODE_NAME_FILE = f"{CONFIG_DIR}/node-name"  # the one per-host value the script reads: the script is the same on
                                             # every node of one shape (one rendering, one compression)
KUBEADM_IMAGES_CONFIG = f"{CONFIG_DIR}/kubeadm-images.yaml"
HOSTS_BLOCK = f"{CONFIG_DIR}/hosts"
RHSM_FILE = f"{CONFIG_DIR}/rhsm"
PKI_DIR = f"{CONFIG_DIR}/pki"
PROXY_ENV = f"{CONFIG_DIR}/proxy.env"
PROXY_BOOT_ENV = f"{CONFIG_DIR}/proxy-boot.env"   # NO_PROXY with the address the host has at boot
REPORT_CURLRC = f"{CONFIG_DIR}/report.curlrc"
DNF_PROXY_CONF = f"{CONFIG_DIR}/dnf-proxy.conf"

# system configuration the bootstrap writes
MODULES_LOAD_PATH = "/etc/modules-load.d/k8s-firstboot.conf"
SYSCTL_PATH = "/etc/sysctl.d/99-kubernetes-cri.conf"
CRIO_DROPIN_PATH = "/etc/crio/crio.conf.d/90-k8s-firstboot.conf"
KUBELET_SYSCONFIG_PATH = "/etc/sysconfig/kubelet"
SUDOERS_PATH = "/etc/sudoers.d/k8s-firstboot-admin"   # no dot in the name: sudo skips such files
REGISTRIES_PATH = "/etc/containers/registries.conf.d/90-k8s-firstboot.conf"
PROXY_DROPIN_PATHS = tuple(f"/etc/systemd/system/{unit}.service.d/90-k8s-firstboot-proxy.conf" for unit in ("crio", "kubelet"))
# keepalived_t may not connect to 6443 (unreserved_port_t): a check run from /etc/keepalived fails under
# SELinux enforcing. Scripts under /usr/libexec/keepalived are keepalived_unconfined_script_exec_t and run
# unconfined (selinux-policy keepalived.fc/.te; docs/upstream-contracts.md).
KEEPALIVED_CHECK = "/usr/libexec/keepalived/k8s-firstboot-check-apiserver"
KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf"

# package repositories
CRIO_REPO_PATH = "/etc/yum.repos.d/cri-o.repo"
KUBE_REPO_PATH = "/etc/yum.repos.d/kubernetes.repo"
COPR_REPO_PATH = "/etc/yum.repos.d/container-selinux.repo"
OS_REPO_PATH = "/etc/yum.repos.d/k8s-firstboot-os.repo"
REPO_PATHS = (CRIO_REPO_PATH, KUBE_REPO_PATH, COPR_REPO_PATH, OS_REPO_PATH)

# other programs' files the bootstrap reads or edits
DNF_CONF = "/etc/dnf/dnf.conf"
ADMIN_KUBECONFIG = "/etc/kubernetes/admin.conf"       # kubeadm init and join --control-plane write it
KUBELET_KUBECONFIG = "/etc/kubernetes/kubelet.conf"   # kubeadm's TLS bootstrap writes it once a node joined

# files written whatever the profile says, files only some profiles get, folders that are the bootstrap's alone
FIXED_PATHS = (SCRIPT_PATH, UNIT_PATH, MODULES_LOAD_PATH, SYSCTL_PATH, CRIO_DROPIN_PATH, KUBELET_SYSCONFIG_PATH,
               SUDOERS_PATH)
CONDITIONAL_PATHS = PROXY_DROPIN_PATHS + (REGISTRIES_PATH, KEEPALIVED_CONF, KEEPALIVED_CHECK)
OWN_DIRS = (CONFIG_DIR, STATE_DIR)
