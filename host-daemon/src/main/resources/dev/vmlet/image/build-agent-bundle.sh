#!/usr/bin/env bash
# Builds the agent bundle: a read-only ISO (label VMLETAGENT) that cloud-init's user-data mounts to
# install the guest agent into /opt/vmlet-agent with a systemd unit that keeps it running.
# Usage: build-agent-bundle.sh AGENT_JAR OUT_DIR DOWNLOAD_DIR. Writes OUT_DIR/agent-bundle.iso.
set -euo pipefail

AGENT_JAR=$1
OUT=$2
die() { echo "error: $*" >&2; exit 1; }
[[ -f $AGENT_JAR ]] || die "agent jar $AGENT_JAR does not exist"
command -v xorriso >/dev/null || die "xorriso is missing; run: apt-get install -y xorriso"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$OUT"
bundle=$work/bundle
# tiered: C2 as well. In a Debian guest (load 4-20) C2 took a pull from 1.5 to 3.5 MB/s and its
# guest CPU from 1,036 to 390 ms per MiB (SHA-256 gets its AVX2 intrinsic in C2 only), the agent's
# memory from 61.9 to 65.1 MiB, and its start was no slower (13.6 s against 16.3 s at that load);
# docs/benchmarks.md. The micro image keeps C1 alone: there the start is the boot.
bash "$(dirname "$0")/build-agent-runtime.sh" "$AGENT_JAR" "$bundle/agent" tiered
# A static busybox for the agent's setsid (GuestPlatform.session): the guest's own setsid is
# dynamically linked, and under TCG that exec cost as much again as a short program's.
if [[ -x /bin/busybox ]] && ! ldd /bin/busybox >/dev/null 2>&1; then
  mkdir -p "$bundle/agent/bin"
  cp /bin/busybox "$bundle/agent/bin/busybox"
else
  echo "warning: no static /bin/busybox (apt-get install -y busybox-static); the agent uses the guest's setsid" >&2
fi

cat > "$bundle/start.sh" <<'START'
#!/bin/sh
# The instance id comes from the kernel command line (direct boot) or from the file cloud-init wrote.
id=$(cat /etc/vmlet/instance-id 2>/dev/null || true)
set --
[ -n "$id" ] && set -- --instance-id "$id"
# The VM's token comes through QEMU's fw_cfg (root-only in sysfs); udev loads the driver on most
# guests, this makes sure.
modprobe qemu_fw_cfg 2>/dev/null || true
# agent_port serial: the legacy serial port instead of the virtio-serial one.
[ "$(cat /etc/vmlet/agent-port 2>/dev/null)" = serial ] && set -- "$@" --serial /dev/ttyS1
# A guest with its own Java 17+ may run the agent on it: JAVA=/path/to/java (or JAVA=java for the
# one on PATH) in /etc/vmlet/agent.env. Anything older or missing falls back to the bundled runtime.
JAVA=
[ -r /etc/vmlet/agent.env ] && . /etc/vmlet/agent.env
if [ -n "$JAVA" ]; then
  major=$("$JAVA" -version 2>&1 | awk -F'"' '/version/ { split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit }')
  if [ "${major:-0}" -ge 17 ] 2>/dev/null; then
    cd /opt/vmlet-agent
    exec "$JAVA" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xmx96m -cp vmlet-agent.jar dev.vmlet.guest.AgentMain "$@"
  fi
  echo "vmlet-agent: $JAVA is not Java 17 or newer (${major:-unknown}); using the bundled runtime" >&2
fi
exec /opt/vmlet-agent/agent.sh "$@"
START
cat > "$bundle/vmlet-agent.service" <<'UNIT'
[Unit]
Description=vmlet guest agent
# Early: the agent needs only local file systems and its port, and phone-home should not wait for
# cloud-init's later stages or for the network.
DefaultDependencies=no
Conflicts=shutdown.target
Before=shutdown.target

After=local-fs.target

[Service]
ExecStart=/opt/vmlet-agent/start.sh
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
UNIT
cat > "$bundle/install.sh" <<'INSTALL'
#!/bin/sh
# Run by cloud-init (bootcmd, once per instance) from the mounted bundle: installs the agent once per instance and
# starts it. Idempotent: a second run replaces the files and restarts the unit.
set -eu
src=$(dirname "$0")
rm -rf /opt/vmlet-agent.new
mkdir -p /opt/vmlet-agent.new
cp -a "$src/agent/." /opt/vmlet-agent.new/
cp "$src/start.sh" /opt/vmlet-agent.new/start.sh
chmod +x /opt/vmlet-agent.new/start.sh /opt/vmlet-agent.new/agent.sh
date -u +%Y-%m-%dT%H:%M:%SZ > /opt/vmlet-agent.new/installed-at
rm -rf /opt/vmlet-agent
mv /opt/vmlet-agent.new /opt/vmlet-agent
cp "$src/vmlet-agent.service" /etc/systemd/system/vmlet-agent.service
systemctl daemon-reload
systemctl enable vmlet-agent.service
# --no-block: this runs inside cloud-init's own unit during boot; waiting for a job there can deadlock.
systemctl restart --no-block vmlet-agent.service
echo "vmlet agent installed in /opt/vmlet-agent"
INSTALL
chmod +x "$bundle/install.sh" "$bundle/start.sh"

echo "packing the bundle"
xorriso -as mkisofs -quiet -output "$OUT/agent-bundle.iso" -volid VMLETAGENT -joliet -rock "$bundle" 2>&1 \
  | grep -v '^xorriso .* : RockRidge' || true
[[ -s $OUT/agent-bundle.iso ]] || die "xorriso wrote no bundle"
echo "agent-bundle.iso $(du -h "$OUT/agent-bundle.iso" | cut -f1)"
