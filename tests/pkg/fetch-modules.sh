#!/bin/sh
# The modules the package test's initramfs needs to mount an ext4 root on
# virtio (ext4 is a module in Debian's kernel), for the kernel that
# tests/vm/fetch-kernel.sh fetched (and keeps).  Cached beside it; prints the
# directory, which holds the .ko files and "load-order".
#
# usage: fetch-modules.sh KERNEL_DIR
set -eu

kdir=${1:?usage: fetch-modules.sh KERNEL_DIR}
abi=$(basename "$kdir")
dir=$kdir-rootfs-modules
# In load order: the virtio stack, then ext4 and what it needs (crc32c
# is a soft dependency: ext4's metadata checksums).
VIRTIO="drivers/virtio/virtio_ring drivers/virtio/virtio
drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci_legacy_dev
drivers/virtio/virtio_pci drivers/block/virtio_blk"
EXT4="lib/crc16 crypto/crc32c_generic fs/mbcache fs/jbd2/jbd2 fs/ext4/ext4"

say() { echo "fetch-modules: $*" >&2; }

cached() {
	[ -s "$dir/load-order" ] || return 1
	for m in $VIRTIO $EXT4; do
		[ -s "$dir/$(basename "$m").ko" ] || return 1
	done
}

if cached; then
	echo "$dir"
	exit 0
fi
# tests/vm/fetch-kernel.sh keeps these modules in its cache: copy, never
# download the kernel package a second time.
tmp=$(mktemp -d "$kdir.modules.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$tmp/out"
for m in $VIRTIO $EXT4; do
	src=$kdir/lib/modules/$abi/kernel/$m.ko
	[ -s "$src" ] || { say "$src missing: run tests/vm/fetch-kernel.sh"; exit 1; }
	cp "$src" "$tmp/out/"
	echo "$(basename "$m").ko" >>"$tmp/out/load-order"
done
rm -rf "$dir"
mv "$tmp/out" "$dir"
say "modules cached in $dir"
echo "$dir"
