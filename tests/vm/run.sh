#!/bin/sh
# Run the VM tier: fetch the kernel (cached), build the initramfs, boot
# qemu, and judge the run from the console, because qemu exits 0 whether
# the guest powered off cleanly or panicked.
#
# usage: tests/vm/run.sh [PROOF...]      (no argument: every proof)
# env:   BUILD            build directory (default build)
#        CORRAL_VM_CACHE  kernel cache (default /var/cache/corral-vm)
#        CORRAL_VM_ACCEL  tcg (default) | kvm | auto (auto probes KVM with a
#                         short boot and falls back to TCG)
#        CORRAL_VM_TIMEOUT  seconds before the VM is killed (default 280)
#        CORRAL_VM_MEM    guest memory (default 768M)
#        V=1              show the whole console while it runs
set -eu

here=$(cd "$(dirname "$0")" && pwd)
export BUILD=${BUILD:-build}
out=$BUILD/vm
accel=${CORRAL_VM_ACCEL:-tcg}
limit=${CORRAL_VM_TIMEOUT:-280}
mem=${CORRAL_VM_MEM:-768M}
cmdline="console=ttyS0 panic=-1 cgroup_no_v1=all loglevel=4"

say() { echo "vm: $*" >&2; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { echo "$(($1 / 1000)).$(($1 % 1000 / 100))"; }
. "$(dirname "$0")/../vm/results.sh"

command -v qemu-system-x86_64 >/dev/null || { say "qemu-system-x86_64 missing (make deps)"; exit 1; }
t_start=$(now_ms)
kdir=$("$here/fetch-kernel.sh")
"$here/build-initramfs.sh" "$kdir"
truncate -s 0 "$out/disk.raw"
truncate -s 64M "$out/disk.raw"

# qemu_run LOG TIMEOUT ACCEL EXTRA-CMDLINE: boot once, console to LOG.
qemu_run() {
	case $3 in
	kvm) a="-accel kvm -cpu host" ;;
	*) a="-accel tcg -cpu qemu64" ;;
	esac
	# shellcheck disable=SC2086
	timeout -k 5 "$2" qemu-system-x86_64 $a -smp 2 -m "$mem" \
		-nographic -no-reboot -monitor none \
		-kernel "$kdir/vmlinuz" -initrd "$out/initramfs.cpio.gz" \
		-append "$cmdline $4" \
		-drive "file=$out/disk.raw,if=virtio,format=raw" \
		</dev/null >"$1" 2>&1
}

# /dev/kvm existing proves nothing (nested setups accept the ioctl and
# then hang or abort), so KVM is used only after a probe boot reaches /init.
if [ "$accel" = auto ]; then
	accel=tcg
	if [ -w /dev/kvm ]; then
		qemu_run "$out/probe.log" 30 kvm corral.probe=1 || true
		grep -q '@@PROBE ok' "$out/probe.log" && accel=kvm
		say "KVM probe: $([ $accel = kvm ] && echo works || echo 'no boot, using TCG')"
	fi
fi

sel=
[ $# -gt 0 ] && sel="corral.proofs=$(echo "$*" | tr ' ' ,)"
say "booting ($accel, 2 CPUs, $mem, timeout ${limit}s) ${sel:-all proofs}"
log=$out/console.log
t_boot=$(now_ms)
: >"$log"
if [ "${V:-0}" = 1 ]; then
	tail -f "$log" &
	tailpid=$!
fi
rc=0
qemu_run "$log" "$limit" "$accel" "$sel" || rc=$?
[ -n "${tailpid:-}" ] && kill "$tailpid" 2>/dev/null
t_end=$(now_ms)

# Markers can sit anywhere in a line (firmware escapes, printk), and the
# serial console ends lines with CRLF.
console_results "$log" "$out/results.txt" "$rc" "$limit"

boot_up=$(sed -n 's/^@@BOOT uptime=//p' "$out/results.txt")
say "guest uptime at /init ${boot_up:-?}s; qemu $(secs $((t_end - t_boot)))s;" \
	"total $(secs $((t_end - t_start)))s; console: $log"
echo "$passed passed, $failed failed"
if [ -n "$problem" ]; then
	say "FAIL: $problem"
	exit 1
fi
[ $failed = 0 ]
