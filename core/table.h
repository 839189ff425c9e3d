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

#endif
