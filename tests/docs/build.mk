# Docs tier: corral's --help, docs/cli.md and corral(1) agree on each
# command's options, and the man pages render without warnings.  Needs
# neither root nor corrald: only the built client.
check-docs: $(BUILD)/corral
	BUILD=$(abspath $(BUILD)) tests/docs/run.sh

CHECK_TARGETS += check-docs
.PHONY: check-docs
