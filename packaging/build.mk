# Installation and the Debian package.
#
#   make install DESTDIR=... [prefix=/usr sysconfdir=/etc ...]
#   make deb         the Debian package (tests/pkg/build.mk)
#
# The compiled-in paths (HELPER_CONF, CORRALD_CONF, DEFAULT_SOCKET in the
# top Makefile) are build-time settings: change them with the same make
# command that builds, not at install time.

prefix ?= /usr
bindir ?= $(prefix)/bin
sbindir ?= $(prefix)/sbin
libexecdir ?= $(prefix)/libexec
sysconfdir ?= /etc
mandir ?= $(prefix)/share/man
systemdunitdir ?= $(prefix)/lib/systemd/system
sysusersdir ?= $(prefix)/lib/sysusers.d
tmpfilesdir ?= $(prefix)/lib/tmpfiles.d
# Debian's and bash-completion's own place (pkg-config bash-completion
# completionsdir), loaded on demand the first time corral is completed.
bashcompdir ?= $(prefix)/share/bash-completion/completions
INSTALL ?= install

# corrald.service's FileDescriptorStoreMax=, from the one place that
# says how many jobs run at once: the packaged helper.conf's max_jobs.
# Per job corrald parks its stdout and stderr pipes (docs/restart.md);
# one more for the helper link; FDSTORE_SPARE for the pipes of jobs that
# have ended but whose EOF corrald has not read yet when new ones start.
PKG_MAX_JOBS := $(shell sed -n 's/^max_jobs[[:space:]]*=[[:space:]]*\([0-9][0-9]*\)[[:space:]]*$$/\1/p' packaging/helper.conf)
FDSTORE_PER_JOB := 2
FDSTORE_SPARE := 16
FDSTORE_MAX = $(shell echo $$(($(PKG_MAX_JOBS) * $(FDSTORE_PER_JOB) + 1 + $(FDSTORE_SPARE))))

PKG_SUBST = sed -e 's|@sbindir@|$(sbindir)|g' -e 's|@libexecdir@|$(libexecdir)|g' \
	-e 's|@sysconfdir@|$(sysconfdir)|g' -e 's|@fdstore_max@|$(FDSTORE_MAX)|g'
MAN_PAGES := packaging/man/corral.1 packaging/man/corrald.8 \
	packaging/man/corral-helper.8 packaging/man/corrald.conf.5 \
	packaging/man/corral-helper.conf.5

# The helper is installed 0755 root:root: making it setuid root with the
# manager's group is the package's job (dpkg-statoverride in postinst), so
# an administrator's override wins.  By hand:
#   chown root:corrald $(libexecdir)/corral/corral-helper
#   chmod 4750 $(libexecdir)/corral/corral-helper
install: $(BUILD)/corral $(BUILD)/corrald $(BUILD)/corral-helper
	@test -n "$(PKG_MAX_JOBS)" || \
		{ echo "install: packaging/helper.conf has no max_jobs = N line"; exit 1; }
	$(INSTALL) -d $(DESTDIR)$(bindir) $(DESTDIR)$(sbindir) \
		$(DESTDIR)$(libexecdir)/corral $(DESTDIR)$(sysconfdir)/corral \
		$(DESTDIR)$(systemdunitdir) $(DESTDIR)$(sysusersdir) \
		$(DESTDIR)$(tmpfilesdir) $(DESTDIR)$(mandir)/man1 \
		$(DESTDIR)$(mandir)/man5 $(DESTDIR)$(mandir)/man8 \
		$(DESTDIR)$(bashcompdir)
	$(INSTALL) -m 0755 $(BUILD)/corral $(DESTDIR)$(bindir)/corral
	$(INSTALL) -m 0755 $(BUILD)/corrald $(DESTDIR)$(sbindir)/corrald
	$(INSTALL) -m 0755 $(BUILD)/corral-helper $(DESTDIR)$(libexecdir)/corral/corral-helper
	$(PKG_SUBST) packaging/corrald.conf >$(DESTDIR)$(sysconfdir)/corral/corrald.conf
	$(INSTALL) -m 0644 packaging/helper.conf $(DESTDIR)$(sysconfdir)/corral/helper.conf
	chmod 0644 $(DESTDIR)$(sysconfdir)/corral/corrald.conf
	$(PKG_SUBST) packaging/corrald.service >$(DESTDIR)$(systemdunitdir)/corrald.service
	chmod 0644 $(DESTDIR)$(systemdunitdir)/corrald.service
	$(INSTALL) -m 0644 packaging/corral-jobs.service $(DESTDIR)$(systemdunitdir)/corral-jobs.service
	$(INSTALL) -m 0644 packaging/corral.sysusers $(DESTDIR)$(sysusersdir)/corral.conf
	$(INSTALL) -m 0644 packaging/corral.tmpfiles $(DESTDIR)$(tmpfilesdir)/corral.conf
	$(INSTALL) -m 0644 packaging/man/*.1 $(DESTDIR)$(mandir)/man1/
	$(INSTALL) -m 0644 packaging/man/*.5 $(DESTDIR)$(mandir)/man5/
	$(INSTALL) -m 0644 packaging/man/*.8 $(DESTDIR)$(mandir)/man8/
	$(INSTALL) -m 0644 packaging/corral.bash-completion $(DESTDIR)$(bashcompdir)/corral

.PHONY: install
