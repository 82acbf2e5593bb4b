#!/usr/bin/env bash
# Builds the vmlet micro image from Debian packages: the distribution cloud kernel, an initramfs
# with static busybox, the virtio modules (virtiofs for shares), a jlink runtime and the guest agent.
# Usage: build-micro.sh AGENT_JAR OUT_DIR DOWNLOAD_DIR [cloud|generic]
# generic (the micro-generic image, build-micro-generic.sh): Debian's generic kernel instead, and
# its 9p modules too; the cloud kernel has no 9p at all (CONFIG_NET_9P unset).
# Writes OUT_DIR/vmlinuz (the bzImage), OUT_DIR/vmlinux (the same kernel as an ELF file with a PVH
# entry point), OUT_DIR/initrd.img and OUT_DIR/kernel-version. Run by MicroImageBuilder, which builds
# into a fresh directory and renames it into place only on success.
set -euo pipefail

AGENT_JAR=$1
OUT=$2
DOWNLOADS=$3
FLAVOUR=${4:-cloud}
# Load order matters: each module after the ones it depends on (modinfo -F depends).
# virtio_rng: the VM's virtio-rng device seeds the kernel's random pool at once. Without it the
# first read of /dev/urandom (the agent's JVM makes one) waits for the kernel's jitter entropy,
# which under TCG took 7 s.
MODULES="virtio_ring virtio virtio_mmio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_rng virtio_console virtio_blk failover net_failover virtio_net button evdev qemu_fw_cfg"
# Loaded by init only when the VM has a share (vmlet.share=): fuse alone took a fifth of init's
# module loading under TCG, on every boot.
SHARE_MODULES="fuse virtiofs"
case $FLAVOUR in
  cloud) KERNEL_META=linux-image-cloud-amd64 ;;
  # 9p needs fscache and netfs (modinfo -F depends 9p), and 9pnet_virtio its transport.
  generic) KERNEL_META=linux-image-amd64; SHARE_MODULES="$SHARE_MODULES netfs fscache 9pnet 9pnet_virtio 9p" ;;
  *) echo "error: kernel flavour must be cloud or generic, got '$FLAVOUR'" >&2; exit 2 ;;
esac

die() { echo "error: $*" >&2; exit 1; }
step() { echo "$*"; }

[[ -f $AGENT_JAR ]] || die "agent jar $AGENT_JAR does not exist"
# (No `busybox --list | grep -q`: with pipefail, grep's early exit fails the pipeline.)
applets=$( [[ -x /bin/busybox ]] && /bin/busybox --list || true)
[[ $'\n'$applets$'\n' == *$'\n'acpid$'\n'* ]] \
  || die "/bin/busybox (static, with acpid) is missing; run: apt-get install -y busybox-static"
for tool in apt-cache apt-get dpkg-deb cpio lz4 xz modinfo; do
  command -v "$tool" >/dev/null || die "$tool is missing; run ./vmlet demo as root or install it with apt-get"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$OUT" "$DOWNLOADS"

# 1. The kernel: the concrete package behind the metapackage, from the host's own apt sources.
pkg=$(apt-cache depends "$KERNEL_META" 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[[ -n $pkg ]] || die "apt does not know $KERNEL_META; run: apt-get update"
kver=${pkg#linux-image-}
deb=$(ls "$DOWNLOADS"/"${pkg}"_*.deb 2>/dev/null | head -n 1 || true)
if [[ -z $deb ]]; then
  step "downloading $pkg with apt-get download"
  (cd "$DOWNLOADS" && apt-get download -q "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
  deb=$(ls "$DOWNLOADS"/"${pkg}"_*.deb 2>/dev/null | head -n 1 || true)
  [[ -n $deb ]] || die "apt-get download $pkg failed; check the apt sources, then run: apt-get update"
fi
step "kernel $kver from $(basename "$deb")"
dpkg-deb -x "$deb" "$work/kernel"
cp "$work/kernel/boot/vmlinuz-$kver" "$OUT/vmlinuz"
echo "$kver" > "$OUT/kernel-version"

# 1b. The same kernel as an ELF file, for QEMU's PVH boot (-kernel vmlinux with SeaBIOS, qboot):
# QEMU loads it as it is and jumps to its PVH entry, so the bzImage's own decompressor, which took
# 0.8-1.4 s of a boot under TCG, never runs. UEFI boots keep the bzImage (OVMF loads no ELF kernel).
# The bzImage's payload is the compressed vmlinux: found by its format's magic, unpacked, checked.
extract_vmlinux() { # BZIMAGE OUT
  local lz4_at xz_at raw=$work/vmlinux.raw
  # The payload starts right after the setup code: the first magic of either format is it (the
  # other's magic may occur by chance inside it).
  lz4_at=$(LC_ALL=C grep -obUaP '\x02\x21\x4c\x18' "$1" | head -n 1 | cut -d: -f1 || true)
  xz_at=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$1" | head -n 1 | cut -d: -f1 || true)
  if [[ -n $lz4_at && ( -z $xz_at || $lz4_at -lt $xz_at ) ]]; then
    # lz4 legacy frames: lz4 reads on past the payload into the bzImage's trailer and exits 1 for
    # it after writing everything; the ELF check below tells a payload that did not unpack.
    lz4 -dc < <(tail -c +$((lz4_at + 1)) "$1") > "$raw" 2>/dev/null || true
  elif [[ -n $xz_at ]]; then
    # (tail in a process substitution: xz stops reading after the stream, and tail's broken pipe must not count.)
    xz -dc --single-stream < <(tail -c +$((xz_at + 1)) "$1") > "$raw" || die "the xz payload of $(basename "$1") does not unpack"
  else
    die "no lz4 or xz payload in $(basename "$1"): cannot make a vmlinux of a kernel compressed otherwise"
  fi
  [[ $(head -c 4 "$raw" | od -An -tx1 | tr -d ' ') == 7f454c46 ]] \
    || die "the payload of $(basename "$1") unpacked to no ELF file; the kernel's format is not one this script knows"
  # QEMU boots an ELF kernel only at its PVH entry (the Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY, 18).
  LC_ALL=C grep -qaP '\x04\x00\x00\x00[\x04\x08]\x00\x00\x00\x12\x00\x00\x00Xen\x00' "$raw" \
    || die "the vmlinux of $(basename "$1") has no PVH entry (CONFIG_PVH); QEMU cannot boot it"
  # Sparse: a third of the file is the zeros that align its segments.
  cp --sparse=always "$raw" "$2"
  rm -f "$raw"
}
extract_vmlinux "$OUT/vmlinuz" "$OUT/vmlinux"

# 2. The root file system of the initramfs.
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,etc/init.d,etc/acpi/PWRF,lib/modules,opt/vmlet,root}
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list-full); do
  [[ $applet == bin/busybox ]] || ln -sf /bin/busybox "$root/$applet"
done
ln -sf /bin/busybox "$root/init"
# Debian signs its modules, and the kernel checks a module's signature at each insmod: SHA-256 over
# the whole module, then an RSA verify. Under TCG that was 1.16 s of init's 1.61 s of
# instruction-counted guest time for these modules (docs/benchmarks.md). Unsigned, the kernel loads
# them all the same (tainting itself 'E'): neither kernel enforces signatures (MODULE_SIG_FORCE
# unset) unless locked down, which these kernels do only under UEFI Secure Boot, which vmlet turns
# on for Windows guests only. The signature is a trailer: the PKCS#7 blob, a 12-byte
# struct module_signature whose last 4 bytes are the blob's length (big-endian), then the magic.
unsign_module() { # KO
  local magic='~Module signature appended~' size sig_len
  [[ $(tail -c 28 "$1" | tr -d '\0' | head -c 27) == "$magic" ]] || return 0
  size=$(stat -c %s "$1")
  sig_len=$(tail -c 32 "$1" | head -c 4 | od -An -tu1 | awk '{ print (($1 * 256 + $2) * 256 + $3) * 256 + $4 }')
  (( sig_len > 0 && sig_len + 40 < size )) || die "module $(basename "$1"): a signature trailer of $sig_len bytes in $size"
  truncate -s $((size - 40 - sig_len)) "$1"
  [[ $(head -c 4 "$1" | od -An -tx1 | tr -d ' ') == 7f454c46 && $(tail -c 28 "$1" | tr -d '\0' | head -c 27) != "$magic" ]] \
    || die "module $(basename "$1"): no ELF file left after taking its signature off"
}
for m in $MODULES $SHARE_MODULES; do
  # Module names use _, some files - (virtio-rng.ko).
  f=$(find "$work/kernel/lib/modules/$kver" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" \
    -o -name "${m//_/-}.ko" -o -name "${m//_/-}.ko.xz" -o -name "${m//_/-}.ko.zst" | head -n 1)
  [[ -n $f ]] || die "module $m not found in $pkg"
  case $f in
    *.xz) xz -dc "$f" > "$root/lib/modules/$m.ko" ;;
    *.zst) zstd -qdc "$f" > "$root/lib/modules/$m.ko" ;;
    *) cp "$f" "$root/lib/modules/$m.ko" ;;
  esac
  unsign_module "$root/lib/modules/$m.ko"
done
echo "$MODULES" > "$root/lib/modules/load-order"
echo "$SHARE_MODULES" > "$root/lib/modules/share-load-order"

# 3. A Java runtime with only what the agent needs, and the shared libraries it links.
bash "$(dirname "$0")/build-agent-runtime.sh" "$AGENT_JAR" "$root/opt/vmlet"
for lib in $( { ldd "$root/opt/vmlet/runtime/bin/java"; find "$root/opt/vmlet/runtime/lib" -name '*.so' -exec ldd {} \; ; } 2>/dev/null \
    | grep -oE '/[^ ]+\.so[^ ]*' | sort -u); do
  case $lib in "$root"*) continue ;; esac
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
[[ -e $root/lib64/ld-linux-x86-64.so.2 ]] || die "the dynamic loader was not copied"

# 4. Init: busybox init runs rcS, keeps the agent running, and powers off on the ACPI button.
cat > "$root/etc/inittab" <<'INITTAB'
::sysinit:/etc/init.d/rcS
::respawn:/opt/vmlet/agent.sh
::respawn:/bin/busybox acpid -f -c /etc/acpi -l /dev/null
ttyS0::respawn:-/bin/sh
::shutdown:/bin/sync
INITTAB
cat > "$root/etc/init.d/rcS" <<'RCS'
#!/bin/sh
mount -t proc proc /proc
# When init began on the boot clock, for the agent's Hello (the daemon's boot breakdown).
read -r init_uptime _ < /proc/uptime
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/virtio-ports
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /run/vmlet && echo "$init_uptime" > /run/vmlet/init-uptime
for m in $(cat /lib/modules/load-order); do insmod /lib/modules/$m.ko 2>/dev/null; done
for p in $(cat /proc/cmdline); do
  case $p in
    vmlet.hostname=*) hostname "${p#vmlet.hostname=}" ;;
    # vmlet.share=TAG:GUEST_PATH[:ro][:9p]: a host directory shared with virtiofs, or with 9p
    # (the micro-generic image's kernel only); the daemon checked the path.
    vmlet.share=*)
      s=${p#vmlet.share=}; tag=${s%%:*}; rest=${s#*:}; type=virtiofs; opts=rw
      [ "${rest%:9p}" != "$rest" ] && { type=9p; rest=${rest%:9p}; }
      dir=${rest%:ro}; [ "$dir" != "$rest" ] && opts=ro
      # 9P2000.L over virtio with 512 KiB messages, as cloud images mount it (8 KiB makes large files crawl).
      [ $type = 9p ] && opts=$opts,trans=virtio,version=9p2000.L,msize=524288
      [ -f /run/share-modules ] || { for m in $(cat /lib/modules/share-load-order); do insmod /lib/modules/$m.ko 2>/dev/null; done; : > /run/share-modules; }
      mkdir -p "$dir" && mount -t $type -o "$opts" "$tag" "$dir" \
        || echo "vmlet micro: cannot mount $type share $tag at $dir" ;;
  esac
done
ip link set lo up 2>/dev/null
# QEMU user-mode networking: fixed addresses, no DHCP round trip at boot.
if ip link set eth0 up 2>/dev/null; then
  ip addr add 10.0.2.15/24 dev eth0
  ip route add default via 10.0.2.2
  echo "nameserver 10.0.2.3" > /etc/resolv.conf
fi
# No udev here: name the virtio-serial ports the way udev's rules would.
i=0
while [ $i -lt 50 ]; do
  for d in /sys/class/virtio-ports/*; do
    [ -f "$d/name" ] && ln -sf "/dev/${d##*/}" "/dev/virtio-ports/$(cat "$d/name")"
  done
  [ -e /dev/virtio-ports/dev.vmlet.agent.0 ] && break
  sleep 0.1
  i=$((i + 1))
done
echo "vmlet micro: up in $(cut -d' ' -f1 /proc/uptime) s, hostname $(hostname)"
RCS
printf '#!/bin/sh\nexec poweroff\n' > "$root/etc/acpi/PWRF/00000080"
chmod +x "$root/etc/init.d/rcS" "$root/etc/acpi/PWRF/00000080"
echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"

# 5. Pack it, uncompressed: the kernel unpacks the initramfs before /init, and under TCG the lz4
# one (the legacy frame; gzip took 0.4 s more CPU still) cost 0.5-1.3 s of instruction-counted guest
# time more than a plain cpio (docs/benchmarks.md). The price: the cpio and its unpacked copy are in
# guest memory at once while the kernel unpacks it (the cpio is freed after), about 30 MiB more than
# the lz4 one for that moment; init then needed 160 MiB instead of 144 (a VM is 512 by default).
step "packing the initramfs"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet --owner=0:0) > "$OUT/initrd.img"
step "vmlinuz $(du -h "$OUT/vmlinuz" | cut -f1), vmlinux $(du -h "$OUT/vmlinux" | cut -f1) on disk ($(du -h --apparent-size "$OUT/vmlinux" | cut -f1) long), initrd.img $(du -h "$OUT/initrd.img" | cut -f1)"
