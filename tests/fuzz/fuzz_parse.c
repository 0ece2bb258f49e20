/* Fuzz the small parsers of what people type: a signal (corral kill
 * --signal), an octal mode (--umask, through its run option) and an
 * environment variable's name (-E).  The first byte picks one; the rest
 * is the text.  What they accept must be in range. */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "proto.h"
#include "runopt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct runopts r = { 0 };
	struct cerr e;
	char *s;
	int sig;

	if (size < 1 || size > 4096)
		return 0;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0:
		if (parse_signal(s, &sig, &e) == 0 && (sig < 1 || sig > 64))
			__builtin_trap();
		if (parse_signal(s, &sig, &e) == 0)
			(void)signal_check_sig(sig, data[0] & 4, &e);
		break;
	case 1:
		if (runopt_parse(&r, OPT_UMASK, s, &e) == 0 && r.u[OPT_UMASK] > 0777)
			__builtin_trap();
		break;
	default:
		if (env_name_valid(s, strlen(s)) &&
		    (strchr(s, '=') || strchr(s, ' ') || (s[0] >= '0' && s[0] <= '9')))
			__builtin_trap();
		break;
	}
	free(s);
	return 0;
}
