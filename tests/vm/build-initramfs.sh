#!/bin/sh
# Build the VM tier's initramfs: busybox, the cgt test program, the virtio
# and zram modules, a small user database and corral's programs with every
# shared library they load.  The tree is built as root with the real
# owners and modes (the helper must be setuid root, group corrald) and
# packed with cpio, which keeps both.
#
# usage: build-initramfs.sh KERNEL_DIR   (KERNEL_DIR from fetch-kernel.sh)
# env:   BUILD (default build), the directory holding the programs.
set -eu

kdir=${1:?usage: build-initramfs.sh KERNEL_DIR}
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-build}
mkdir -p "$build/vm"
out=$(cd "$build/vm" && pwd)
root=$out/rootfs
abi=$(basename "$kdir")

say() { echo "build-initramfs: $*" >&2; }

[ "$(id -u)" = 0 ] || { say "must run as root (the archive needs root-owned, setuid files)"; exit 1; }
[ -x "$out/cgt" ] || { say "$out/cgt missing (make $out/cgt)"; exit 1; }
busybox=$(command -v busybox) || { say "busybox not found (apt-get install busybox-static)"; exit 1; }
file -L "$busybox" | grep -q 'statically linked' || { say "$busybox is not static (install busybox-static)"; exit 1; }

rm -rf "$root"
mkdir -p "$root"
cd "$root"
mkdir -p bin usr/bin usr/libexec/corral etc/corral proc sys dev mnt run \
	var/lib newroot root lib64 "lib/modules/$abi"
install -d -m 1777 tmp
ln -s bin sbin
ln -s ../bin usr/sbin

cp "$busybox" bin/busybox
for a in $("$busybox" --list); do
	case $a in busybox | init | linuxrc) ;; *) ln -s busybox "bin/$a" ;; esac
done
install -m 0755 "$out/cgt" bin/cgt

# Modules at their usual paths, plus the order /init loads them in (there
# is no depmod on the host to write modules.dep).
(cd "$kdir" && find lib -name '*.ko' | cpio -pdm --quiet "$root")
cp "$kdir/load-order" "lib/modules/$abi/load-order"

install -m 0755 "$here/init" init
install -m 0755 "$here/proofs.sh" proofs.sh
cd - >/dev/null

# The test system's users.  corrald is the manager (a system user); alice
# and bob may run jobs (group corral), mallory may not.  corrald is in
# corral too: it gives its socket to that group.
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
corrald:x:990:990:corral manager:/var/lib/corral:/bin/false
alice:x:1000:1000:alice:/tmp:/bin/sh
mallory:x:1001:1001:mallory:/tmp:/bin/sh
bob:x:1002:1002:bob:/tmp:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
corrald:x:990:
corral:x:991:alice,bob,corrald
corral-admin:x:992:
alice:x:1000:
mallory:x:1001:
bob:x:1002:
nogroup:x:65534:
EOF
cat >"$root/etc/shadow" <<'EOF'
root:*:19000:0:99999:7:::
corrald:!:19000::::::
alice:!:19000::::::
mallory:!:19000::::::
bob:!:19000::::::
nobody:!:19000::::::
EOF
chmod 0640 "$root/etc/shadow"
printf 'passwd: files\ngroup: files\nshadow: files\n' >"$root/etc/nsswitch.conf"
echo corral-vm >"$root/etc/hostname"

# Copy a dynamic program's shared libraries (and the loader, at the path
# baked into the program) to the same paths in the image.
copy_libs() {
	ldd "$1" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p' |
	while read -r lib; do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}

# corral's programs as the package installs them; missing ones are
# skipped so the harness can be proved before they exist.
install_prog() { # src dest mode group
	if [ ! -x "$1" ]; then
		say "skipping $1 (not built)"
		return 0
	fi
	install -m "$3" -o root -g "$4" "$1" "$root$2"
	chmod "$3" "$root$2" # install may drop setuid when it chowns
	copy_libs "$1"
	basename "$2" >>"$root/etc/corral/programs"
}
: >"$root/etc/corral/programs"
install_prog "$build/corrald" /usr/bin/corrald 0755 root
install_prog "$build/corral" /usr/bin/corral 0755 root
install_prog "$build/corral-helper" /usr/libexec/corral/corral-helper 4750 990
install_prog "$build/corral-helper-test" /usr/libexec/corral/corral-helper-test 4750 990

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -6) >"$out/initramfs.cpio.gz.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
say "$(du -k "$out/initramfs.cpio.gz" | cut -f1) KiB, programs: $(tr '\n' ' ' <"$root/etc/corral/programs")"
