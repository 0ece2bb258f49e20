# The Debian package and its proof on a booted Debian 12 system.
#
#   make deb        build the package in $(BUILD)-deb and run lintian on it
#   make pkg-probe  what that Debian's systemd does with the pieces of the
#                   crash and restart design (docs/restart.md)
#   make check-pkg  install it with apt in a Debian 12 VM booted with
#                   systemd (qemu, TCG) and check the service end to end
#
# All need root and Debian's package archive (debootstrap, once; the
# image is cached in /var/cache/corral-vm).  See docs/packaging.md.

# Outside $(BUILD): the top Makefile includes every *.d under it, and the
# package staging tree holds directories named tmpfiles.d and sysusers.d.
DEB_DIR := $(BUILD)-deb
DEB_SRC := $(DEB_DIR)/corral-$(VERSION)
# What the build needs; the package is built from a copy, so the work tree
# never holds a debian/ directory or dpkg-buildpackage's by-products.
DEB_TREE := Makefile common helper manager client schema packaging

deb:
	@test "$$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)" = "$(VERSION)" || \
		{ echo "deb: packaging/debian/changelog is not at version $(VERSION)"; exit 1; }
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_SRC)
	tar -cf - --exclude='*.o' --exclude='*.d' $(DEB_TREE) | tar -xf - -C $(DEB_SRC)
	cp -a packaging/debian $(DEB_SRC)/debian
	@# make install lives in packaging/build.mk
	grep -q '^-\?include.*packaging/build.mk' $(DEB_SRC)/Makefile || \
		echo '-include packaging/build.mk' >>$(DEB_SRC)/Makefile
	cd $(DEB_SRC) && dpkg-buildpackage -us -uc
	lintian --fail-on error,warning $(DEB_DIR)/corral_$(VERSION)_*.changes
	@ls $(DEB_DIR)/corral_$(VERSION)_*.deb

check-pkg: deb
	BUILD=$(BUILD) tests/pkg/run.sh $(DEB_DIR)/corral_$(VERSION)_amd64.deb

# What systemd 252 does with the pieces of the crash and restart design
# (docs/restart.md); probes systemd with stand-in units, not corral, so it
# is not part of make check.
$(BUILD)/pkg-probe/fdkeep: tests/pkg/probe/fdkeep.c
	@mkdir -p $(@D)
	$(CC) -O2 -Wall -Wextra -Werror -static -o $@ $<

pkg-probe: deb $(BUILD)/pkg-probe/fdkeep
	BUILD=$(BUILD)/pkg-probe PKG_GUEST=tests/pkg/probe/guest.sh PKG_FILES=$(BUILD)/pkg-probe/fdkeep \
		tests/pkg/run.sh $(DEB_DIR)/corral_$(VERSION)_amd64.deb

CHECK_TARGETS += check-pkg
.PHONY: deb check-pkg pkg-probe
