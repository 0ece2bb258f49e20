/* corral run -i and -t, the client's side: the caller's stdin to the
 * job, the caller's terminal in raw mode and its size (docs/tty.md). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"

extern char **environ;

/* --- the environment -t passes by default ---------------------------- */

static bool env_given(const char *const *env, size_t n, const char *v,
		      size_t namelen)
{
	for (size_t i = 0; i < n; i++)
		if (!strncmp(env[i], v, namelen) && env[i][namelen] == '=')
			return true;
	return false;
}

/* What a terminal program needs to draw and to speak the user's
 * language, as ssh passes them (SendEnv LANG LC_*): TERM, LANG, LC_*. */
static bool tty_var(const char *v, size_t len)
{
	return (len == 4 && (!strncmp(v, "TERM", 4) || !strncmp(v, "LANG", 4))) ||
	       (len > 3 && !strncmp(v, "LC_", 3));
}

void term_env_defaults(const char **env, size_t *n, size_t max)
{
	for (char **ep = environ; *ep; ep++) {
		const char *v = *ep, *eq = strchr(v, '=');
		size_t len = eq ? (size_t)(eq - v) : 0;

		if (!len || !tty_var(v, len) || env_given(env, *n, v, len) ||
		    strlen(v) > ENV_LEN_MAX || *n >= max)
			continue;
		env[(*n)++] = v;
	}
}

/* --- raw mode ---------------------------------------------------------- */

static struct termios saved;
static volatile sig_atomic_t raw_on;

void term_restore(void)
{
	if (!raw_on)
		return;
	raw_on = 0;
	tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
}

/* A signal that would end us with the terminal raw: put it back first,
 * then die of the signal as before. */
static void on_fatal(int sig)
{
	term_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Every byte typed goes to the job as it is, as ssh -t does it: no
 * echo, no line editing, no signals from keys (^C is a byte for the
 * job's terminal), no output processing (the job's pty does it). */
int term_raw(struct cerr *e)
{
	static const int fatal[] = { SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM };
	struct termios t;

	if (tcgetattr(STDIN_FILENO, &saved) < 0)
		return cerr_sys(e, "reading the terminal's settings");
	t = saved;
	t.c_iflag |= IGNPAR;
	t.c_iflag &= ~(tcflag_t)(ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXANY | IXOFF);
	t.c_lflag &= ~(tcflag_t)(ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHONL | IEXTEN);
	t.c_oflag &= ~(tcflag_t)OPOST;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (atexit(term_restore) != 0)
		return cerr_set(e, ENOMEM, "atexit");
	for (size_t i = 0; i < ARRAY_SIZE(fatal); i++)
		signal(fatal[i], on_fatal);
	if (tcsetattr(STDIN_FILENO, TCSADRAIN, &t) < 0)
		return cerr_sys(e, "setting the terminal to raw mode");
	raw_on = 1;
	return 0;
}

void term_size(unsigned *rows, unsigned *cols)
{
	struct winsize ws;

	*rows = *cols = 0;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

int term_send_size(struct corral_conn *conn, struct cerr *e)
{
	struct winsize ws;

	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0)
		return 0;	/* not a terminal: nothing to say */
	return corral_winsize(conn, ws.ws_row, ws.ws_col, e);
}

/* --- input -------------------------------------------------------------- */

/* conn->on_in: what stdin has now, one INPUT; EOF (or a stdin that
 * cannot be read) ends the job's input. */
int term_pump(void *ctx, struct cerr *e)
{
	static uint8_t buf[INPUT_CHUNK_MAX];
	struct corral_conn *conn = ctx;
	ssize_t n = read(conn->in_fd, buf, sizeof buf);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n > 0)
		return corral_input(conn, buf, (size_t)n, false, e);
	conn->in_fd = -1;
	return corral_input(conn, NULL, 0, true, e);
}
