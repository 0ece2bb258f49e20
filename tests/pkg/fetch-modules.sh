#!/bin/sh
# The modules the package test's initramfs needs to mount an ext4 root on
# virtio (ext4 is a module in Debian's kernel), for the kernel that
# tests/vm/fetch-kernel.sh fetched.  Cached beside it; prints the
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
pkg=linux-image-$abi
tmp=$(mktemp -d "$kdir.modules.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
say "downloading $pkg for its ext4 modules"
if ! (cd "$tmp" && apt-get download "$pkg" >&2 2>"$tmp/err"); then
	say "apt-get download failed ($(tail -n 1 "$tmp/err")); running apt-get update"
	apt-get update -qq >&2
	(cd "$tmp" && apt-get download "$pkg" >&2)
fi
dpkg -x "$tmp"/"$pkg"_*.deb "$tmp/x"
mkdir -p "$tmp/out"
for m in $VIRTIO $EXT4; do
	cp "$tmp/x/lib/modules/$abi/kernel/$m.ko" "$tmp/out/"
	echo "$(basename "$m").ko" >>"$tmp/out/load-order"
done
rm -rf "$dir"
mv "$tmp/out" "$dir"
say "modules cached in $dir"
echo "$dir"
