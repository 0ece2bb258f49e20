#!/bin/sh
# Build (once) the root file system of the package test's VM: a Debian 12
# system made with debootstrap from Debian's packages, booted with systemd
# as pid 1, packed as a raw ext4 image with mkfs.ext4 -d (no loop mount).
# The image is cached outside the source tree and rebuilt only when it is
# missing or this script changed (its hash is in the file name).  The VM
# boots it with qemu -snapshot, so the cached image is never written.
#
# Prints the image path on stdout.
# env: CORRAL_VM_CACHE (default /var/cache/corral-vm)
#      CORRAL_MIRROR   (default http://deb.debian.org/debian)
set -eu

cache=${CORRAL_VM_CACHE:-/var/cache/corral-vm}
mirror=${CORRAL_MIRROR:-http://deb.debian.org/debian}
# systemd as pid 1 with udev (a real boot); adduser for the package's
# fallback path; the package's run-time libraries, so that apt installs
# the .deb offline (the VM has no network).  procps for pgrep.
include=systemd,systemd-sysv,udev,dbus,adduser,procps,libseccomp2,libcap-ng0,libsqlite3-0,libuuid1
size=2G

say() { echo "mkimage: $*" >&2; }

key=$(sha256sum "$0" | cut -c1-12)
img=$cache/debootstrap-bookworm-$key.img
if [ -s "$img" ]; then
	echo "$img"
	exit 0
fi
[ "$(id -u)" = 0 ] || { say "must run as root (debootstrap)"; exit 1; }
command -v debootstrap >/dev/null || { say "debootstrap missing (make deps)"; exit 1; }

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.mkimage.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
root=$tmp/root
t0=$(date +%s)
say "debootstrap bookworm from $mirror (first run: a few minutes)"
debootstrap --variant=minbase --include="$include" bookworm "$root" "$mirror" \
	>"$tmp/debootstrap.log" 2>&1 || {
	tail -n 30 "$tmp/debootstrap.log" >&2
	say "debootstrap failed"
	exit 1
}
say "debootstrap took $(($(date +%s) - t0))s"

echo pkgvm >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 pkgvm\n' >"$root/etc/hosts"
# The initramfs mounts the root read-write; no fsck on a throw-away disk.
echo '/dev/vda / ext4 rw,errors=remount-ro 0 0' >"$root/etc/fstab"
# A fixed machine id: an empty one would make the boot a "first boot".
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$root/etc/machine-id"
echo >>"$root/etc/machine-id"
# The downloaded archives are not needed once unpacked.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

# Nothing may touch dpkg or the console behind the test's back: no
# timers (apt-daily would take the dpkg lock), no getty on the serial line.
for u in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
	e2scrub_all.timer fstrim.timer serial-getty@ttyS0.service \
	getty@tty1.service systemd-timesyncd.service systemd-firstboot.service; do
	ln -sf /dev/null "$root/etc/systemd/system/$u"
done

# The test driver: at boot, mount the payload disk (/dev/vdb: the .deb and
# pkgtest.sh) and run it with its output on the serial console, then
# power off.  The script itself comes with each run, so changing it does
# not rebuild the image.
cat >"$root/usr/local/sbin/pkgtest-boot" <<'SH'
#!/bin/sh
echo "@@BOOT uptime=$(cut -d' ' -f1 /proc/uptime)"
mkdir -p /mnt/payload
if mount -o ro /dev/vdb /mnt/payload && [ -f /mnt/payload/pkgtest.sh ]; then
	sh /mnt/payload/pkgtest.sh
	echo "@@N pkgtest.sh exited with status $?"
else
	echo "@@N no payload disk"
fi
sync
systemctl --no-block poweroff
SH
chmod 0755 "$root/usr/local/sbin/pkgtest-boot"
cat >"$root/etc/systemd/system/pkgtest.service" <<'UNIT'
[Unit]
Description=corral package test driver
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/pkgtest-boot
StandardInput=null
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
UNIT
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/pkgtest.service \
	"$root/etc/systemd/system/multi-user.target.wants/pkgtest.service"
ln -sf /lib/systemd/system/multi-user.target "$root/etc/systemd/system/default.target"

mkfs.ext4 -q -F -L pkgroot -d "$root" "$tmp/img" "$size" >&2
# Images made by earlier versions of this script are of no further use.
rm -f "$cache"/debootstrap-bookworm-*.img
mv "$tmp/img" "$img"
say "image $img ($(du -m "$img" | cut -f1) MiB used) in $(($(date +%s) - t0))s"
echo "$img"
