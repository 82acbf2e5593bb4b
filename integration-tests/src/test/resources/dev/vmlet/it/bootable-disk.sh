#!/usr/bin/env bash
# Makes a disk image that boots through its own bootloader, the way a cloud image a user brings
# does: an MBR partition table, SYSLINUX in the MBR and on a FAT boot partition holding the kernel
# and initrd, and the root file system in the second partition. Built without mounting anything.
# Usage: bootable-disk.sh ROOT_IMAGE VMLINUZ INITRD OUT.qcow2
#   ROOT_IMAGE: a whole-disk ext4 file system labelled vmlet-root (vmlet's Debian root.qcow2).
set -euo pipefail
root_image=$1 vmlinuz=$2 initrd=$3 out=$4
mbr=/usr/lib/syslinux/mbr/mbr.bin
for tool in syslinux mcopy mkfs.vfat sfdisk qemu-img; do
  command -v "$tool" >/dev/null || { echo "$tool is missing; run: apt-get install -y syslinux syslinux-common mtools dosfstools fdisk qemu-utils" >&2; exit 1; }
done
[[ -f $mbr ]] || { echo "$mbr is missing; run: apt-get install -y syslinux-common" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
boot_mib=96
qemu-img convert -O raw "$root_image" "$work/root.raw"
root_mib=$(( ($(stat -c %s "$work/root.raw") + 1048575) / 1048576 ))

mkfs.vfat -n VMLETBOOT -C "$work/boot.img" $((boot_mib * 1024)) >/dev/null
cat > "$work/syslinux.cfg" <<CFG
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /vmlinuz
  INITRD /initrd.img
  APPEND root=LABEL=vmlet-root ro console=ttyS0
CFG
mcopy -i "$work/boot.img" "$vmlinuz" ::vmlinuz
mcopy -i "$work/boot.img" "$initrd" ::initrd.img
mcopy -i "$work/boot.img" "$work/syslinux.cfg" ::syslinux.cfg
syslinux --install "$work/boot.img"

truncate -s $(( (1 + boot_mib + root_mib) * 1048576 )) "$work/disk.raw"
sfdisk --quiet "$work/disk.raw" <<PART
label: dos
start=2048, size=$((boot_mib * 2048)), type=6, bootable
start=$((2048 + boot_mib * 2048)), type=83
PART
dd if="$mbr" of="$work/disk.raw" bs=440 count=1 conv=notrunc status=none
dd if="$work/boot.img" of="$work/disk.raw" bs=1M seek=1 conv=notrunc status=none
dd if="$work/root.raw" of="$work/disk.raw" bs=1M seek=$((1 + boot_mib)) conv=notrunc,sparse status=none
qemu-img convert -O qcow2 "$work/disk.raw" "$out.tmp"
mv "$out.tmp" "$out"
