/* Column output the way Docker prints it: Go's tabwriter with minimum width
 * 10, padding 3, left aligned; the last column is not padded.  Cells are
 * collected first and aligned when the table is flushed. */
#ifndef STRATA_CORE_TABLE_H
#define STRATA_CORE_TABLE_H

#include <stdio.h>

struct strata_table;

struct strata_table *strata_table_new(size_t ncols);
/* Adds a row of NCOLS cells (copied). */
void strata_table_add(struct strata_table *t, const char *const *cells);
/* Writes every row to OUT and frees the table. */
void strata_table_flush(struct strata_table *t, FILE *out);

/* Go's text/tabwriter, as Docker's formatter sets it up (minimum width 10,
 * tab width 1, padding 3, padded with spaces, no flags), applied to TEXT
 * (LEN bytes) in one go, as if written and then flushed: cells end at a
 * tab, lines at a newline; a column is as wide as its widest cell in a run
 * of consecutive lines that have it, plus the padding; the text after a
 * line's last tab is not aligned; a line without a tab ends the run, and
 * \v and \f act as tab and newline.  Widths count UTF-8 characters. */
void strata_table_write_tabbed(const char *text, size_t len, FILE *out);

#endif
