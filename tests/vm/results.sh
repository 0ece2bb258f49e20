# Sourced by the qemu harnesses (tests/vm/run.sh, tests/pkg/run.sh): read
# the markers a guest printed on its serial console.  qemu's exit status
# says nothing about the guest, so only the markers decide.
#
#   console_results LOG OUT QEMU_STATUS LIMIT
#
# Writes OUT (the @@ lines, CR stripped; the kernel may print before a
# marker on the same line), prints each @@R result and each @@N note, and
# sets passed, failed and problem (empty when the run itself was sound).
console_results() {
	tr -d '\r' <"$1" | sed -n 's/.*\(@@.*\)/\1/p' >"$2"
	passed=0
	failed=0
	while read -r tag name status rest; do
		[ "$tag" = "@@R" ] || continue
		echo "$name $status $rest"
		if [ "$status" = ok ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
	done <"$2"
	grep '^@@N ' "$2" | sed 's/^@@N /note: /' >&2 || true
	problem=
	if [ "$3" = 124 ] || [ "$3" = 137 ]; then
		problem="the VM was killed after ${4}s"
	elif ! grep -q '^@@BOOT' "$2"; then
		problem="the guest never reached the tests (qemu status $3)"
	elif ! grep -q '^@@DONE' "$2"; then
		problem="no @@DONE: the tests did not finish (crash or hang)"
	elif [ $((passed + failed)) = 0 ]; then
		problem="no results"
	fi
}
