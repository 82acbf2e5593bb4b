#!/usr/bin/env bash
# Builds the Debian 12 cloud image from the host's own apt sources with mmdebstrap: the cloud
# kernel, systemd, cloud-init, openssh-server, qemu-guest-agent (for comparisons); no Java (the
# agent arrives through cloud-init). The root file system fills the whole disk (no partition table),
# booted directly with the kernel and initrd written next to it.
# Usage: build-debian.sh AGENT_JAR(unused) OUT_DIR DOWNLOAD_DIR.
# Writes OUT_DIR/root.qcow2, OUT_DIR/vmlinuz, OUT_DIR/initrd.img and OUT_DIR/kernel-version.
set -euo pipefail

OUT=$2
SUITE=bookworm
SIZE=3G
PACKAGES=linux-image-cloud-amd64,systemd-sysv,udev,dbus,cloud-init,openssh-server,qemu-guest-agent,ifupdown,isc-dhcp-client,netbase,sudo,ca-certificates,less,e2fsprogs,iproute2
die() { echo "error: $*" >&2; exit 1; }
for tool in mmdebstrap mkfs.ext4 qemu-img apt-cache; do
  command -v "$tool" >/dev/null || die "$tool is missing; run: apt-get install -y mmdebstrap e2fsprogs qemu-utils"
done
[[ $(id -u) == 0 ]] || die "building the Debian image needs root (mmdebstrap keeps file owners)"

# The Debian archives this host already uses, as apt reports them: no mirror is named here.
mapfile -t sources < <(apt-cache policy | awk '
  $2 ~ /^[a-z]+:\/\// && $NF == "Packages" { url = $2; split($3, sc, "/"); next }
  /release/ && url != "" { if ($0 ~ /o=Debian,/) print "deb " url " " sc[1] " " sc[2]; url = "" }' | sort -u)
[[ ${#sources[@]} -gt 0 ]] || die "apt knows no Debian archive; check /etc/apt/sources.list.d, then run: apt-get update"
echo "sources: ${#sources[@]} Debian archive entries from the host's apt configuration"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$OUT"
echo "mmdebstrap $SUITE (a minute or two)"
mmdebstrap --quiet --variant=apt --mode=root --format=directory --include="$PACKAGES" \
  --customize-hook='echo "LABEL=vmlet-root / ext4 defaults,discard 0 1" > "$1/etc/fstab"' \
  --customize-hook='rm -f "$1/etc/hostname" "$1/etc/machine-id" && touch "$1/etc/machine-id"' \
  --customize-hook='printf "auto lo\niface lo inet loopback\nsource /etc/network/interfaces.d/*\n" > "$1/etc/network/interfaces"' \
  --customize-hook='printf "datasource_list: [ NoCloud, None ]\n# No locales package: keep the C locale instead of failing cc_locale.\nlocale: false\n" > "$1/etc/cloud/cloud.cfg.d/90-vmlet.cfg"' \
  "$SUITE" "$work/root" "${sources[@]}"
kver=$(ls "$work/root/lib/modules" | head -n 1)
[[ -n $kver ]] || die "no kernel was installed"
cp "$work/root/boot/vmlinuz-$kver" "$OUT/vmlinuz"
cp "$work/root/boot/initrd.img-$kver" "$OUT/initrd.img"
echo "$kver" > "$OUT/kernel-version"
echo "root file system $(du -sh "$work/root" | cut -f1), kernel $kver"
mkfs.ext4 -q -F -L vmlet-root -d "$work/root" "$work/root.raw" "$SIZE"
rm -rf "$work/root"
echo "compressing to qcow2"
qemu-img convert -c -O qcow2 "$work/root.raw" "$OUT/root.qcow2"
echo "root.qcow2 $(du -h "$OUT/root.qcow2" | cut -f1) (virtual $SIZE)"
