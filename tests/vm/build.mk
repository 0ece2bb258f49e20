# VM tier: boots a Debian kernel in qemu (TCG) on a pure cgroup2 hierarchy
# and proves corral's resource limits for real.  Needs root (the initramfs
# holds a setuid-root helper) and network access once to fetch the kernel.
# See docs/testing-vm.md.

# The in-VM test program is static: the image has no libc of its own
# apart from what corral's programs pull in.
$(BUILD)/vm/cgt: tests/vm/cgt.c
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) -static -O2 -std=gnu11 $(WARN) -D_GNU_SOURCE -o $@ $<

check-vm: programs $(BUILD)/vm/cgt
	BUILD=$(BUILD) tests/vm/run.sh $(VM_PROOFS)

CHECK_TARGETS += check-vm
.PHONY: check-vm
