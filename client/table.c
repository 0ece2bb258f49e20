/* Columns as wide as their widest cell: a fixed width cut user and job
 * names that the next column had room for. */
#include "table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "parse.h"

#define FLEX_MIN 10

void table_init(struct table *t, const char *const *head, size_t ncols,
		size_t flex)
{
	memset(t, 0, sizeof *t);
	t->head = head;
	t->ncols = ncols < TABLE_COLS_MAX ? ncols : TABLE_COLS_MAX;
	t->flex = flex;
	for (size_t i = 0; i < t->ncols; i++)
		t->w[i] = text_width(head[i]);
}

size_t text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

int table_add(struct table *t, const char *const *cells, struct cerr *e)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		char **c = reallocarray(t->cells, cap * t->ncols, sizeof *c);
		if (!c)
			return cerr_sys(e, "table of %zu rows", cap);
		t->cells = c;
		t->cap = cap;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		char **slot = &t->cells[t->nrows * t->ncols + i];
		size_t w;
		if (!(*slot = strdup(cells[i]))) {
			while (i--)
				free(t->cells[t->nrows * t->ncols + i]);
			return cerr_sys(e, "table row");
		}
		w = text_width(cells[i]);
		if (w > t->w[i])
			t->w[i] = w;
	}
	t->nrows++;
	return 0;
}

/* s cut to at most w characters, the last three "..." if cut. */
static void put_cut(FILE *f, const char *s, size_t w)
{
	size_t n = 0;
	const char *p = s;

	if (text_width(s) <= w) {
		fputs(s, f);
		return;
	}
	for (; *p; p++)
		if (((unsigned char)*p & 0xc0) != 0x80 && n++ == w - 3)
			break;
	fprintf(f, "%.*s...", (int)(p - s), s);
}

static void put_row(const struct table *t, FILE *f, const char *const *cells,
		    const size_t *w)
{
	for (size_t i = 0; i < t->ncols; i++) {
		if (i + 1 == t->ncols) {
			put_cut(f, cells[i], w[i]);
			break;
		}
		fprintf(f, "%s%*s  ", cells[i], (int)(w[i] - text_width(cells[i])), "");
	}
	fputc('\n', f);
}

void table_print(const struct table *t, FILE *f, size_t width)
{
	size_t w[TABLE_COLS_MAX], used = 0;

	memcpy(w, t->w, sizeof w);
	for (size_t i = 0; i < t->ncols; i++)
		used += w[i] + (i ? 2 : 0);
	if (width && used > width && t->flex + 1 == t->ncols) {
		size_t others = used - w[t->flex];
		w[t->flex] = width > others + FLEX_MIN ? width - others : FLEX_MIN;
		if (w[t->flex] > t->w[t->flex])
			w[t->flex] = t->w[t->flex];
	}
	put_row(t, f, t->head, w);
	for (size_t r = 0; r < t->nrows; r++)
		put_row(t, f, (const char *const *)&t->cells[r * t->ncols], w);
}

void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}

size_t output_width(void)
{
	const char *v = getenv("COLUMNS");
	struct winsize ws;
	uint64_t n;
	struct cerr e;

	if (v && *v && parse_u64(v, &n, &e) == 0 && n > 0 && n < 100000)
		return (size_t)n;
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
	    ws.ws_col > 0)
		return ws.ws_col;
	return 0;
}
