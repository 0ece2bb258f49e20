#!/bin/sh
# The package test: boot a Debian 12 system (debootstrap image, systemd as
# pid 1) in qemu with the .deb on a second disk; a unit in the image runs
# tests/pkg/pkgtest.sh at boot, which installs the package with apt and
# checks the service end to end, printing "@@R step ok|FAIL detail" lines
# and "@@DONE" on the serial console.  The verdict comes from the console,
# since qemu exits 0 whether the guest passed, failed or panicked.
#
# usage: tests/pkg/run.sh PATH/corral_VERSION_ARCH.deb
# env:   BUILD              build directory (default build)
#        CORRAL_VM_CACHE    kernel and image cache (default /var/cache/corral-vm)
#        CORRAL_PKG_TIMEOUT seconds before the VM is killed (default 600)
#        V=1                show the console while it runs
#        PKG_GUEST          the script the guest runs (default tests/pkg/pkgtest.sh)
#        PKG_FILES          more files for the payload disk (make pkg-probe)
set -eu

deb=${1:?usage: run.sh CORRAL_DEB}
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-build}
out=$build/pkg
limit=${CORRAL_PKG_TIMEOUT:-600}

say() { echo "pkg: $*" >&2; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { echo "$(($1 / 1000)).$(($1 % 1000 / 100))"; }
. "$(dirname "$0")/../vm/results.sh"

[ "$(id -u)" = 0 ] || { say "must run as root (debootstrap, image files owned by root)"; exit 1; }
[ -f "$deb" ] || { say "$deb: no such package (make deb)"; exit 1; }
for t in qemu-system-x86_64 mkfs.ext4 cpio; do
	command -v $t >/dev/null || { say "$t missing (make deps)"; exit 1; }
done
busybox=$(command -v busybox) || { say "busybox missing (make deps)"; exit 1; }
file -L "$busybox" | grep -q 'statically linked' || { say "$busybox is not static (busybox-static)"; exit 1; }

t0=$(now_ms)
kdir=$("$here/../vm/fetch-kernel.sh")
mods=$("$here/fetch-modules.sh" "$kdir")
img=$("$here/mkimage.sh")
t_img=$(now_ms)

# The initramfs: busybox, the virtio and ext4 modules, and an /init that
# mounts the disk and hands over to its systemd.
rm -rf "$out"
mkdir -p "$out/initramfs/bin" "$out/initramfs/modules" "$out/payload"
cp "$busybox" "$out/initramfs/bin/busybox"
ln -s busybox "$out/initramfs/bin/sh"
cp "$mods"/*.ko "$mods/load-order" "$out/initramfs/modules/"
install -m 0755 "$here/initramfs-init" "$out/initramfs/init"
(cd "$out/initramfs" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$out/initramfs.cpio.gz"

# The payload disk: the package, a newer build of it for the upgrade
# proof (the same files under a bumped version, so dpkg installs every
# one anew), and the test script.
cp "$deb" "$out/payload/"
rm -rf "$out/newer-tree"
dpkg-deb -R "$deb" "$out/newer-tree"
sed -i 's/^Version: \(.*\)$/Version: \1+up1/' "$out/newer-tree/DEBIAN/control"
mkdir -p "$out/payload/newer"
dpkg-deb -b "$out/newer-tree" "$out/payload/newer/" >/dev/null
install -m 0755 "${PKG_GUEST:-$here/pkgtest.sh}" "$out/payload/pkgtest.sh"
[ -z "${PKG_FILES:-}" ] || cp $PKG_FILES "$out/payload/"
mkfs.ext4 -q -F -L payload -d "$out/payload" "$out/payload.img" 32M >/dev/null

log=$out/console.log
: >"$log"
if [ "${V:-0}" = 1 ]; then
	tail -f "$log" &
	tailpid=$!
fi
say "booting $(basename "$img") (tcg, 2 CPUs, timeout ${limit}s)"
t_boot=$(now_ms)
rc=0
# snapshot=on: the guest's writes go to a temporary file, so the cached
# image stays pristine and needs no copy.
timeout -k 5 "$limit" qemu-system-x86_64 -accel tcg -cpu qemu64 -smp 2 -m 1G \
	-nographic -no-reboot -monitor none -nic none \
	-kernel "$kdir/vmlinuz" -initrd "$out/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1 loglevel=4 systemd.show_status=error" \
	-drive "file=$img,if=virtio,format=raw,snapshot=on" \
	-drive "file=$out/payload.img,if=virtio,format=raw,readonly=on" \
	</dev/null >"$log" 2>&1 || rc=$?
t_end=$(now_ms)
[ -n "${tailpid:-}" ] && kill "$tailpid" 2>/dev/null

# Markers can sit anywhere in a line, and the serial line ends in CRLF.
console_results "$log" "$out/results.txt" "$rc" "$limit"

boot=$(sed -n 's/^@@BOOT uptime=//p' "$out/results.txt")
say "image+kernel $(secs $((t_img - t0)))s; guest up at ${boot:-?}s; qemu $(secs $((t_end - t_boot)))s;" \
	"total $(secs $((t_end - t0)))s; console: $log"
echo "$passed passed, $failed failed"
if [ -n "$problem" ]; then
	say "FAIL: $problem"
	tail -n 40 "$log" | tr -d '\r' | sed 's/^/  console| /' >&2
	exit 1
fi
[ $failed = 0 ]
