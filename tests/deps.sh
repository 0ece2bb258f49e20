#!/bin/sh
# Install everything corral's build and test tiers need, on Debian 12.
set -eu
if [ "$(id -u)" != 0 ]; then
	echo "tests/deps.sh: must run as root (it calls apt-get)" >&2
	exit 1
fi
# libclang-rt-14-dev holds the ASan, UBSan and libFuzzer runtimes: it is only a
# Recommends of clang, and recommends are not installed below.  build-essential:
# dpkg-buildpackage always checks for it, though no control file names it.
# man-db (with groff-base): the docs tier renders the man pages as lintian does.
# bash-completion: the integration tier runs corral's completion with it loaded.
# openssh-server and -client: the integration tier's t_remote runs a private
# sshd on 127.0.0.1 (on a machine with systemd the package also enables the
# system's own sshd; the tests never use it).
# tmux, vim-tiny (vi), python3-minimal: the integration tier's t_tty drives
# `corral run -it` from a tmux pane, with vi and the python3 REPL in it.
# nftables: the helper's anti-spoofing rules for --network (a Recommends of
# the package); python3: t_network's peers (TCP, UDP, unprivileged ping).
pkgs="make gcc clang libclang-rt-14-dev libc6-dev pkg-config libcmocka-dev libseccomp-dev
libsqlite3-dev uuid-dev sqlite3 util-linux passwd procps
iproute2 qemu-system-x86 busybox-static cpio gzip file
build-essential dpkg-dev debhelper lintian debootstrap e2fsprogs bubblewrap
man-db bash-completion openssh-server openssh-client tmux vim-tiny python3-minimal
nftables python3"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing
fi
echo "deps: all installed"
