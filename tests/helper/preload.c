/* A library the tests put in LD_PRELOAD of the setuid helper: if the
 * dynamic loader ever honours it there, the constructor leaves a marker
 * file behind (CRLT_PRELOAD_MARKER names it). */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void crlt_preload_mark(void)
{
	const char *path = getenv("CRLT_PRELOAD_MARKER");
	int fd;

	if (!path)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
}
