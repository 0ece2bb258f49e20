# shellcheck shell=sh
# Network namespaces with bridges for --network's tests and bench, so that
# nothing touches the host's interfaces: sourced by
# tests/integration/t_network.sh and tests/bench/bench.sh.

# net_bridge NS BRIDGE [ADDR/PREFIX]: a bridge, up (with the address, the
# network's gateway), in the namespace NS, made first if missing.
net_bridge() {
	if [ ! -e "/run/netns/$1" ]; then
		ip netns add "$1" && ip -n "$1" link set lo up || return 1
	fi
	ip -n "$1" link add "$2" type bridge || return 1
	if [ -n "${3:-}" ]; then
		ip -n "$1" addr add "$3" dev "$2" || return 1
	fi
	ip -n "$1" link set "$2" up
}

# net_section NAME KEY=VALUE...: helper.conf's [network NAME] section.
net_section() {
	printf '[network %s]\n' "$1"
	shift
	for kv in "$@"; do
		printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"
	done
	echo
}
