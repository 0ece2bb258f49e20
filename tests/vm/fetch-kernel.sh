#!/bin/sh
# Fetch the Debian kernel the VM tier boots, without installing it on the
# host: download the linux-image-<abi> package and unpack only what the VM
# needs (vmlinuz and the virtio disk modules; the ext4 modules too, which
# the package tier's initramfs needs for its root) into a cache outside the
# tree.
# Prints the cache directory of that kernel on stdout.  Idempotent.
set -eu

cache=${CORRAL_VM_CACHE:-/var/cache/corral-vm}
# The virtio-blk stack, zram (swap for the memory-swap proof), and the
# bridge and veth for the network proof, in load order, paths under
# lib/modules/<abi>/kernel (dependencies read from each .ko's depends=
# field).  Every cgroup controller is built in.
MODS="drivers/virtio/virtio_ring drivers/virtio/virtio
drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci_legacy_dev
drivers/virtio/virtio_pci drivers/block/virtio_blk
mm/zsmalloc drivers/block/zram/zram
net/llc/llc net/802/stp net/bridge/bridge drivers/net/veth"
# Kept for tests/pkg (ext4 root on virtio), not loaded by the VM tier.
KEEP="lib/crc16 crypto/crc32c_generic fs/mbcache fs/jbd2/jbd2 fs/ext4/ext4"

say() { echo "fetch-kernel: $*" >&2; }

# The metapackage's only dependency names the current ABI; it changes with
# every kernel security update, so never hardcode it.
abi_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: *\(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1
}

pkg=$(abi_pkg)
if [ -z "$pkg" ]; then
	say "no package lists for linux-image-amd64; running apt-get update"
	apt-get update -qq >&2
	pkg=$(abi_pkg)
fi
[ -n "$pkg" ] || { say "cannot resolve linux-image-amd64 to a kernel package"; exit 1; }
abi=${pkg#linux-image-}
dir=$cache/$abi

cached() {
	[ -s "$dir/vmlinuz" ] && [ -s "$dir/config" ] && [ -s "$dir/load-order" ] || return 1
	for m in $MODS $KEEP; do
		[ -s "$dir/lib/modules/$abi/kernel/$m.ko" ] || return 1
	done
}

if cached; then
	echo "$dir"
	exit 0
fi

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
say "downloading $pkg"
if ! (cd "$tmp" && apt-get download "$pkg" >&2 2>"$tmp/err"); then
	# Stale or missing lists are the usual cause: refresh once and retry.
	say "apt-get download failed ($(tail -n 1 "$tmp/err")); running apt-get update"
	apt-get update -qq >&2
	(cd "$tmp" && apt-get download "$pkg" >&2)
fi
deb=$(ls "$tmp"/"$pkg"_*.deb)
say "unpacking $(basename "$deb")"
dpkg -x "$deb" "$tmp/x"

out=$tmp/out
mkdir -p "$out"
cp "$tmp/x/boot/vmlinuz-$abi" "$out/vmlinuz"
cp "$tmp/x/boot/config-$abi" "$out/config"
for m in $MODS $KEEP; do
	mkdir -p "$out/lib/modules/$abi/kernel/$(dirname "$m")"
	cp "$tmp/x/lib/modules/$abi/kernel/$m.ko" \
		"$out/lib/modules/$abi/kernel/$m.ko"
done
for m in $MODS; do
	echo "kernel/$m.ko" >>"$out/load-order"
done
rm -rf "$dir"
mv "$out" "$dir"
say "kernel $abi cached in $dir"
echo "$dir"
