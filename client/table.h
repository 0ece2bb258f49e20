/* A table of text columns sized to their contents, for ps and audit. */
#ifndef CORRAL_TABLE_H
#define CORRAL_TABLE_H

#include <stddef.h>
#include <stdio.h>

#include "err.h"

#define TABLE_COLS_MAX 8

struct table {
	const char *const *head;
	size_t ncols;
	size_t flex;		/* the one column cut to fit the width */
	char **cells;		/* nrows * ncols, owned */
	size_t nrows, cap;
	size_t w[TABLE_COLS_MAX];
};

void table_init(struct table *t, const char *const *head, size_t ncols,
		size_t flex);
/* Copies ncols cells (already made safe to print: fmt_text). */
int table_add(struct table *t, const char *const *cells, struct cerr *e);
/* Header and rows; width 0 means no limit.  Only the flex column, which
 * must be the last, is cut (with "..."), never below 10 characters. */
void table_print(const struct table *t, FILE *f, size_t width);
void table_free(struct table *t);

/* Characters (UTF-8 code points) in s: its width on a terminal, but for
 * double-width scripts. */
size_t text_width(const char *s);
/* $COLUMNS if set, else the terminal's width if stdout is one, else 0. */
size_t output_width(void);

#endif
