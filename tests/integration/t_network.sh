# shellcheck shell=bash
# --network, sourced by run.sh: jobs with an address on a bridge.  The
# instance runs inside a network namespace made here (CORRAL_NETNS), with
# the bridge br-lab and the gateway address in it; nothing touches the
# host's interfaces and no packet leaves this machine.  The namespace and
# the group go again at the end (and on any exit, through cleanup_extra).

. "$top/tests/netns.sh"
net_ns=crlnet-$sfx
net_grp=crl-in-$sfx
net_conf=$work/network.conf
net_py=$work/netpeer.py
net_udp=$work/netudp.py

net_cleanup() {
	ip netns del "$net_ns" 2>/dev/null
	groupdel "$net_grp" 2>/dev/null
	return 0
}

# The bridge and its gateway address, in the namespace the instance runs
# in; uA may use the network by name, uB through a group; uAdm not at all.
net_setup() {
	# A second bridge for a network without anti-spoofing: the same
	# forgeries reach the other job there, so the test can tell.
	net_bridge "$net_ns" br-lab 10.99.0.1/24 && net_bridge "$net_ns" br-open || return 1
	groupadd "$net_grp" && usermod -a -G "$net_grp" "$uB" || return 1
	{
		net_section lab bridge=br-lab subnet=10.99.0.0/24 gateway=10.99.0.1 \
			pool=10.99.0.10-10.99.0.13 "users=$uA, @$net_grp" max_per_user=2
		net_section open bridge=br-open subnet=10.98.0.0/24 \
			pool=10.98.0.10-10.98.0.20 "users=$uA, $uB" antispoof=no
	} >"$net_conf"
	# listen PORT SECONDS: print each datagram's source and text;
	# send SRC DST PORT TEXT: one datagram from SRC.
	cat >"$net_udp" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if sys.argv[1] == "listen":
    s.bind(("0.0.0.0", int(sys.argv[2])))
    end = time.time() + float(sys.argv[3])
    while time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try:
            data, src = s.recvfrom(100)
        except socket.timeout:
            break
        print("udp from %s: %s" % (src[0], data.decode()), flush=True)
else:
    s.bind((sys.argv[2], 0))
    s.sendto(sys.argv[5].encode(), (sys.argv[3], int(sys.argv[4])))
PY
	# A peer: listen on 5555, send "hello from ME" to the other job
	# (retrying until it listens too), print what arrives, then an ICMP
	# echo over an unprivileged ping socket (ping_group_range).
	cat >"$net_py" <<'PY'
import socket, struct, sys, time
me, peer = sys.argv[1], sys.argv[2]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 5555))
srv.listen(1)
srv.settimeout(10)
for _ in range(200):
    try:
        c = socket.create_connection((peer, 5555), timeout=1)
        break
    except OSError:
        time.sleep(0.05)
c.send(("hello from " + me).encode())
c.close()
conn, addr = srv.accept()
print("tcp from %s: %s" % (addr[0], conn.recv(100).decode()))
p = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
p.settimeout(3)
p.sendto(struct.pack("!BBHHH", 8, 0, 0, 0, 1) + b"corral", (peer, 0))
data, src = p.recvfrom(128)
print("echo reply from %s type %d" % (src[0], data[0]))
PY
	chmod 644 "$net_conf" "$net_py" "$net_udp"
}

# The host end of a job's veth, in the instance's namespace.
net_veth_of() { echo "crl${1:0:8}${1:9:4}"; }
net_has_link() { ip -n "$net_ns" -o link show "$1" >/dev/null 2>&1; }

t_net_two_jobs() {
	local a b la lb
	a=$(cr "$uA" run -d --network lab=10.99.0.10 -- python3 "$net_py" 10.99.0.10 10.99.0.11)
	b=$(cr "$uB" run -d --network lab=10.99.0.11 -- python3 "$net_py" 10.99.0.11 10.99.0.10)
	cr "$uA" wait "$a" >/dev/null 2>&1
	cr "$uB" wait "$b" >/dev/null 2>&1
	la=$(cr "$uA" logs "$a" 2>&1) lb=$(cr "$uB" logs "$b" 2>&1)
	has "$la" "^tcp from 10.99.0.11: hello from 10.99.0.11$" &&
		has "$lb" "^tcp from 10.99.0.10: hello from 10.99.0.10$"
	result $? net_tcp_both_ways "A: $la | B: $lb"
	has "$la" "^echo reply from 10.99.0.11 type 0$" &&
		has "$lb" "^echo reply from 10.99.0.10 type 0$"
	result $? net_ping_both_ways "A: $la | B: $lb"
}

# status and --json name the network, the address and the MAC; the MAC
# is locally administered and comes from the job id.
t_net_status() {
	local id out js mac
	id=$(cr "$uA" run -d --network lab -- sleep 0.2)
	cr "$uA" wait "$id" >/dev/null 2>&1
	mac="02:${id:0:2}:${id:2:2}:${id:4:2}:${id:6:2}:${id:9:2}"
	out=$(cr "$uA" status "$id")
	has "$out" "^network: *lab$" && has "$out" "^address: *10.99.0.1[0-3]/24, MAC $mac$"
	result $? net_status "$out"
	js=$(cr "$uA" status --json "$id")
	has "$js" "\"network\":\"lab\"" && has "$js" "\"net_address\":\"10.99.0.1[0-3]/24\"" &&
		has "$js" "\"net_mac\":\"$mac\""
	result $? net_status_json "$js"
}

# A job sees lo and eth0 only, in ip link and in /sys/class/net; without
# --network lo only; /sys/fs/cgroup is the job's own group, no job ids.
t_net_links() {
	local out
	out=$(cr "$uA" run -q --network lab -- sh -c \
		'ip -o link | cut -d: -f2 | cut -d@ -f1 | tr -d " " | sort | paste -sd,; ls /sys/class/net | sort | paste -sd,; ip route | head -n 1' 2>&1)
	[ "$out" = "$(printf 'eth0,lo\neth0,lo\ndefault via 10.99.0.1 dev eth0 ')" ]
	result $? net_links_lo_eth0_only "$out"
	out=$(cr "$uA" run -q -- sh -c \
		'ip -o link | cut -d: -f2 | tr -d " " | paste -sd,; ls /sys/class/net | paste -sd,' 2>&1)
	[ "$out" = "$(printf 'lo\nlo')" ]
	result $? net_without_network_lo_only "$out"
	out=$(cr "$uA" run -q -- sh -c \
		'ls /sys/fs/cgroup | grep -c -E "^[0-9a-f]{8}-" ; test -r /sys/fs/cgroup/cgroup.procs && echo own' 2>&1)
	[ "$out" = "$(printf '0\nown')" ]
	result $? net_cgroup_own_only "$out"
}

# Each refusal exits 126 and says what was wrong.
net_refused() {
	local name=$1 user=$2 want=$3 out rc
	shift 3
	out=$(cr "$user" run --network "$@" -- true 2>&1); rc=$?
	[ $rc = 126 ] && has "$out" "$want"
	result $? "$name" "rc=$rc: $out"
}

t_net_refusals() {
	local hold h2 id
	net_refused net_refuse_outside_pool "$uA" "10.99.0.99 is outside the pool 10.99.0.10-10.99.0.13" lab=10.99.0.99
	net_refused net_refuse_not_allowed "$uAdm" "user $uAdm may not use it" lab
	net_refused net_refuse_unknown "$uA" 'network "nope" is not in the policy' nope
	hold=$(cr "$uA" run -d --network lab=10.99.0.12 -- sleep 30)
	net_refused net_refuse_taken "$uB" "10.99.0.12 is taken by another job" lab=10.99.0.12
	h2=$(cr "$uA" run -d --network lab -- sleep 30)
	net_refused net_refuse_quota "$uA" "you hold 2 addresses already" lab
	# The veth is there while the job runs, and goes with it; only
	# then is its address free again.
	net_has_link "$(net_veth_of "$hold")"
	result $? net_veth_while_running "no $(net_veth_of "$hold") in $net_ns"
	cr "$uA" kill "$hold" >/dev/null 2>&1
	cr "$uA" kill "$h2" >/dev/null 2>&1
	cr "$uA" wait "$hold" >/dev/null 2>&1
	cr "$uA" wait "$h2" >/dev/null 2>&1
	not net_has_link "$(net_veth_of "$hold")"
	result $? net_veth_gone_after "$(ip -n "$net_ns" -o link | grep crl)"
	id=$(cr "$uB" run -d --network lab=10.99.0.12 -- true 2>&1)
	cr "$uB" wait "$id" >/dev/null 2>&1
	expect net_address_reused_after "$id: state $(field "$id" state), $(field "$id" error)" \
		test "$(field "$id" net_address)" = 10.99.0.12/24
}

# The job has no CAP_NET_ADMIN or CAP_NET_RAW in its namespace.
t_net_eperm() {
	local out
	out=$(cr "$uA" run -q --network lab -- sh -c '
		ip addr add 10.99.0.77/24 dev eth0 2>&1; echo "addr $?"
		ip link set eth0 address 02:00:00:00:00:77 2>&1; echo "mac $?"
		python3 -c "import socket
try:
    socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)
    print(\"raw ok\")
except OSError as e:
    print(\"raw\", e.errno)"' 2>&1)
	has "$out" "^addr 2$" && has "$out" "^mac 2$" && has "$out" "^raw 1$" &&
		[ "$(printf '%s\n' "$out" | grep -c "Operation not permitted")" = 2 ]
	result $? net_job_cannot_reconfigure "$out"
}

# Root inside job A's namespace (a job that escaped its limits) sends to
# job B: from its own address, from a forged one, and with a forged MAC.
# On "lab" (anti-spoofing) only the first arrives; on "open" all do.
net_forge() {
	local net=$1 a_ip=$2 b_ip=$3 a b pid
	b=$(cr "$uB" run -d --network "$net=$b_ip" -- python3 "$net_udp" listen 6000 4)
	a=$(cr "$uA" run -d --network "$net=$a_ip" -- sleep 30)
	pid=$(field "$a" pid)
	nsenter --net="/proc/$pid/ns/net" sh -c '
		sleep 0.5
		python3 "$1" send "$2" "$3" 6000 legit
		ip addr add "$4/32" dev eth0 && python3 "$1" send "$4" "$3" 6000 forged-ip
		ip link set eth0 address 02:00:00:00:00:77 &&
			python3 "$1" send "$2" "$3" 6000 forged-mac' _ \
		"$net_udp" "$a_ip" "$b_ip" "${a_ip%.*}.77"
	cr "$uB" wait "$b" >/dev/null 2>&1
	cr "$uA" kill "$a" >/dev/null 2>&1
	cr "$uA" wait "$a" >/dev/null 2>&1
	cr "$uB" logs "$b" 2>&1 | sort | paste -sd,
}

t_net_antispoof() {
	local out id
	out=$(net_forge lab 10.99.0.10 10.99.0.11)
	[ "$out" = "udp from 10.99.0.10: legit" ]
	result $? net_antispoof_drops_forged "$out"
	out=$(net_forge open 10.98.0.10 10.98.0.11)
	[ "$out" = "udp from 10.98.0.10: forged-mac,udp from 10.98.0.10: legit,udp from 10.98.0.77: forged-ip" ]
	result $? net_without_antispoof_forged_arrive "$out"
	# The rules go with the job.
	id=$(cr "$uA" run -d --network lab -- sleep 30)
	ip netns exec "$net_ns" nft list chain bridge corral "$(net_veth_of "$id")" >/dev/null 2>&1
	result $? net_antispoof_rules_while_running "no chain $(net_veth_of "$id")"
	cr "$uA" kill "$id" >/dev/null 2>&1
	cr "$uA" wait "$id" >/dev/null 2>&1
	out=$(ip netns exec "$net_ns" nft list ruleset 2>&1)
	not has "$out" "$(net_veth_of "$id")"
	result $? net_antispoof_rules_gone_after "$out"
}

# A restarted helper rebuilds its leases from the veths it finds (their
# alias names job, user, network and address): one whose job's cgroup is
# gone is deleted, and its address is given again.
t_net_restart() {
	local fake=crl0123456789ab env id
	ip -n "$net_ns" link add "$fake" type veth peer name crlpeer-$sfx &&
		ip -n "$net_ns" link set "$fake" alias \
			"corral 01234567-89ab-4cde-8f01-23456789abcd $uidA lab 10.99.0.13"
	result $? net_restart_leftover_made "$(ip -n "$net_ns" -o link | grep crl)"
	kill "$CORRALD_PID"
	env=$("$inst" restart "$dir") && eval "$env"
	# corrald answers "try again" until its new helper is ready
	for _ in $(seq 100); do
		id=$(cr "$uA" run -d --network lab=10.99.0.13 -- true 2>&1)
		has "$id" "try again" || break
		sleep 0.1
	done
	cr "$uA" wait "$id" >/dev/null 2>&1
	[ "$(field "$id" net_address)" = 10.99.0.13/24 ] && not net_has_link "$fake"
	result $? net_restart_leftover_released "$id: $(field "$id" state) $(field "$id" error); $(ip -n "$net_ns" -o link | grep crl)"
}

# A reload re-executes the helper with its jobs kept: a --network job's
# address stays its own (rebuilt from the veth), and when the job ends
# its veth and rules go as before.
t_net_reload() {
	local id n0 out
	id=$(cr "$uA" run -d --network lab=10.99.0.12 -- sleep 3)
	n0=$(grep -c '^corrald: resumed' "$dir/corrald.log")
	kill -HUP "$CORRALD_PID"
	wait_for 10 sh -c '[ "$(grep -c "^corrald: resumed" "$1")" -gt "$2" ]' _ "$dir/corrald.log" "$n0"
	result $? net_reload_done "$(tail -n 3 "$dir/corrald.log" | tr '\n' '|')"
	net_refused net_reload_address_kept "$uB" "10.99.0.12 is taken by another job" lab=10.99.0.12
	cr "$uA" wait "$id" >/dev/null 2>&1
	out=$(ip netns exec "$net_ns" nft list ruleset 2>&1; ip -n "$net_ns" -o link)
	[ "$(field "$id" state)" = exited ] && not has "$out" "$(net_veth_of "$id")"
	result $? net_reload_veth_and_rules_gone "state $(field "$id" state); $out"
}

if ! command -v ip >/dev/null || ! command -v python3 >/dev/null; then
	bad net_setup "needs ip and python3"
elif ! net_setup; then
	bad net_setup "could not make the namespace $net_ns with a bridge"
	net_cleanup
else
	cleanup_extra=net_cleanup
	CORRAL_NETNS=$net_ns CORRAL_POLICY_EXTRA=$net_conf start_instance net
	t_net_two_jobs
	t_net_status
	t_net_links
	t_net_refusals
	t_net_eperm
	t_net_restart
	command -v nft >/dev/null && t_net_reload
	if command -v nft >/dev/null; then
		t_net_antispoof
	else
		bad net_antispoof "nft is not installed (tests/deps.sh installs nftables)"
	fi
	stop_instance
	net_cleanup
	cleanup_extra=:
fi
