# shellcheck shell=bash
# Installs what vmlet needs on a Debian host, or prints the exact command when not root.
# Sourced by ./vmlet (for `vmlet demo`) and ./scripts/test.

# command-to-check  debian-package
VMLET_DEPS=(
  "java:openjdk-17-jdk-headless"
  "javac:openjdk-17-jdk-headless"
  "jlink:openjdk-17-jdk-headless"
  "mvn:maven"
  "qemu-system-x86_64:qemu-system-x86"
  "qemu-img:qemu-utils"
  "cpio:cpio"
  "modinfo:kmod"
  "gzip:gzip"
  "lz4:lz4"
  # The micro-generic image's vmlinux comes out of an xz-compressed bzImage (build-micro.sh).
  "xz:xz-utils"
  "dpkg-deb:dpkg"
  "ip:iproute2"
  "ssh:openssh-client"
  "ssh-keygen:openssh-client"
  "xorriso:xorriso"
  "mmdebstrap:mmdebstrap"
  "mkfs.ext4:e2fsprogs"
  # For the test that boots a disk image through its own bootloader (bootable-disk.sh).
  "syslinux:syslinux"
  "file:/usr/lib/syslinux/mbr/mbr.bin:syslinux-common"
  "mcopy:mtools"
  "mkfs.vfat:dosfstools"
  "sfdisk:fdisk"
  # A pseudo-terminal pair for the agent's serial transport test.
  "socat:socat"
  # fuser: StateDirFaultIT names what holds a mount that will not turn read-only.
  "fuser:psmisc"
  # MetricsIT: a real Prometheus scrapes the daemon; vmlet top runs in a real terminal (tmux).
  "prometheus:prometheus"
  "tmux:tmux"
  # FleetDiscoveryIT: a real DNS server (its own config, loopback only) that the daemons discover peers through.
  "dnsmasq:dnsmasq-base"
  "file:/bin/busybox:busybox-static"
  # OciRegistryIT: a real OCI registry (distribution 2.8), and htpasswd for its Basic-auth test.
  "docker-registry:docker-registry"
  "htpasswd:apache2-utils"
  "file:/usr/share/OVMF/OVMF_CODE_4M.fd:ovmf"
  # --tpm and --os windows: a TPM 2.0 per VM (TpmIT, WindowsProfileIT, SwtpmTest).
  "swtpm:swtpm"
  # Fonts for the benchmark charts (XChart draws text with the JDK's font stack).
  "fc-list:fontconfig"
  "file:/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:fonts-dejavu-core"
)

vmlet_missing_packages() {
  local entry cmd pkg missing=()
  for entry in "${VMLET_DEPS[@]}"; do
    pkg=${entry##*:}
    cmd=${entry%:*}
    if [[ $cmd == file:* ]]; then
      [[ -e ${cmd#file:} ]] && continue
    elif command -v "$cmd" >/dev/null 2>&1; then
      continue
    fi
    [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
  done
  # busybox-static must be the static build: the micro image copies /bin/busybox into the guest.
  if [[ -x /bin/busybox ]] && ! dpkg -s busybox-static >/dev/null 2>&1; then
    [[ " ${missing[*]} " == *" busybox-static "* ]] || missing+=("busybox-static")
  fi
  echo "${missing[*]}"
}

# The micro image is built from the distribution kernel with `apt-get download`, which needs
# package lists that know linux-image-cloud-amd64.
vmlet_apt_lists_ready() {
  local policy
  policy=$(apt-cache policy linux-image-cloud-amd64 2>/dev/null || true)
  [[ $policy == *"Candidate: "[0-9]* ]]
}

vmlet_ensure_host_deps() {
  local missing
  missing=$(vmlet_missing_packages)
  if [[ -z $missing ]] && vmlet_apt_lists_ready; then
    return 0
  fi
  # shellcheck disable=SC2086
  vmlet_apt_install "missing host packages or package lists" $missing || return 1
  if [[ -n $missing ]]; then
    # Debian's prometheus package starts a system-wide server on :9090 where systemd runs; the tests
    # start their own on loopback, so the one the install started goes again.
    if [[ " $missing " == *" prometheus "* ]] && [[ -d /run/systemd/system ]]; then
      systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    fi
    # docker-registry's packaged service listens on :5000 with htpasswd on; the tests start their
    # own on 127.0.0.1 with their own config, so the packaged one is stopped and not started at boot.
    if [[ " $missing " == *" docker-registry "* ]]; then
      if [[ -d /run/systemd/system ]]; then
        systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
      else
        service docker-registry stop >/dev/null 2>&1 || true
        update-rc.d docker-registry disable >/dev/null 2>&1 || true
      fi
    fi
  fi
  missing=$(vmlet_missing_packages)
  if [[ -n $missing ]]; then
    echo "vmlet: still missing after apt-get install: $missing" >&2
    return 1
  fi
}

# Installs Debian packages for one purpose (WHY, said when not root: then the command is printed);
# with no PACKAGE it refreshes the package lists only. Usage: vmlet_apt_install WHY [PACKAGE...]
vmlet_apt_install() {
  local why=$1
  shift
  if [[ $(id -u) -ne 0 ]]; then
    echo "vmlet: $why. Run:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends $*" >&2
    return 1
  fi
  echo "==> Installing host packages: ${*:-(none; refreshing package lists)}"
  # A third-party source that cannot be reached must not stop the Debian ones from updating.
  apt-get update -qq || echo "vmlet: apt-get update reported errors; continuing with the lists it got" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The npm packages the tests use, pinned: buf lints proto/ (and checks it against the last tagged
# API), and the Node.js client example runs against a real daemon (NodeClientIT). They go into a
# cache directory outside the repository; VMLET_NODE_TOOLS (exported) says where.
VMLET_NPM_PACKAGES=(
  "@bufbuild/buf@1.75.0"
  "@grpc/grpc-js@1.14.7"
  "@grpc/proto-loader@0.8.1"
)

vmlet_ensure_node_tools() {
  export VMLET_NODE_TOOLS=${VMLET_NODE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/vmlet/node-tools}
  local stamp="$VMLET_NODE_TOOLS/.installed" want="${VMLET_NPM_PACKAGES[*]}"
  if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
    return 0
  fi
  # Node.js and npm only for the tests (buf, the Node.js client example), not for ./vmlet demo.
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    vmlet_apt_install "the tests need Node.js and npm" nodejs npm || return 1
  fi
  echo "==> Installing npm packages into $VMLET_NODE_TOOLS: $want"
  mkdir -p "$VMLET_NODE_TOOLS"
  # --prefix keeps everything (node_modules, the lock file) in the cache directory.
  npm install --prefix "$VMLET_NODE_TOOLS" --no-audit --no-fund --loglevel=error "${VMLET_NPM_PACKAGES[@]}" >/dev/null
  echo "$want" >"$stamp"
}

# Docker Engine for the node image and the Swarm tests (Debian's docker.io). dockerd is started
# only when none answers, and a one-node swarm is made only when the engine is in none; what this
# started is written down (VMLET_DOCKER_STARTED, VMLET_SWARM_CREATED) and vmlet_release_docker
# undoes exactly that, so an engine or a swarm that was there before is left as it was.
vmlet_ensure_docker() {
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    vmlet_apt_install "the container tests need Docker Engine" docker.io || return 1
    # Where systemd runs, the package enabled and started its own engine; it is ours to stop.
    if [[ -d /run/systemd/system ]] && systemctl is-active -q docker.service; then
      systemctl disable -q --now docker.service docker.socket >/dev/null 2>&1 || true
    fi
  fi
  export VMLET_DOCKER_STARTED=${VMLET_DOCKER_STARTED:-}
  if ! docker info >/dev/null 2>&1; then
    echo "==> Starting dockerd (stopped again when the tests end)"
    # dockerd turns IP forwarding on, sets the FORWARD policy to DROP and adds bridges and rules
    # that outlive it: what was there before is noted here and put back by vmlet_release_docker.
    VMLET_DOCKER_FORWARDING=$(cat /proc/sys/net/ipv4/ip_forward)
    VMLET_DOCKER_FORWARD_POLICY=$(iptables -S FORWARD 2>/dev/null | awk '$1 == "-P" {print $3}')
    local log=${TMPDIR:-/tmp}/vmlet-dockerd.log
    dockerd >"$log" 2>&1 &
    VMLET_DOCKER_STARTED=$!
    local i
    for i in $(seq 1 120); do
      docker info >/dev/null 2>&1 && break
      kill -0 "$VMLET_DOCKER_STARTED" 2>/dev/null || { echo "vmlet: dockerd exited; its log: $log" >&2; tail -n 20 "$log" >&2; return 1; }
      sleep 0.5
    done
    docker info >/dev/null 2>&1 || { echo "vmlet: dockerd did not answer within 60 s; its log: $log" >&2; return 1; }
  fi
  export VMLET_SWARM_CREATED=${VMLET_SWARM_CREATED:-}
  if [[ $(docker info --format '{{.Swarm.LocalNodeState}}') == inactive ]]; then
    echo "==> Making a one-node swarm (left again when the tests end)"
    docker swarm init --advertise-addr 127.0.0.1 >/dev/null
    VMLET_SWARM_CREATED=1
  fi
}

# Undoes what vmlet_ensure_docker started: the swarm it made, the dockerd it started with the
# bridges, rules and forwarding dockerd left behind. Nothing else.
vmlet_release_docker() {
  if [[ -n ${VMLET_SWARM_CREATED:-} ]]; then
    docker swarm leave --force >/dev/null 2>&1 || echo "vmlet: could not leave the swarm the tests made" >&2
    VMLET_SWARM_CREATED=
  fi
  if [[ -n ${VMLET_DOCKER_STARTED:-} ]]; then
    kill "$VMLET_DOCKER_STARTED" 2>/dev/null || true
    local i
    for i in $(seq 1 60); do
      kill -0 "$VMLET_DOCKER_STARTED" 2>/dev/null || break
      sleep 0.5
    done
    VMLET_DOCKER_STARTED=
    local link
    for link in docker0 docker_gwbridge; do
      ip link delete "$link" 2>/dev/null || true
    done
    if command -v iptables-save >/dev/null; then
      iptables-save | grep -v -i docker | iptables-restore || echo "vmlet: could not remove dockerd's iptables rules" >&2
      [[ -z ${VMLET_DOCKER_FORWARD_POLICY:-} ]] || iptables -P FORWARD "$VMLET_DOCKER_FORWARD_POLICY"
    fi
    [[ -z ${VMLET_DOCKER_FORWARDING:-} ]] || echo "$VMLET_DOCKER_FORWARDING" >/proc/sys/net/ipv4/ip_forward
  fi
}
