/* A hash set of file system nodes: (dev, ino) keys, optionally with a name
 * ("NAME inside the directory dev:ino"), each able to carry a string.  The
 * layer engine tracks what a layer wrote with it; the tree copy and the
 * disk usage walk find the other names of a hardlinked inode. */
#ifndef STRATA_CORE_NODE_SET_H
#define STRATA_CORE_NODE_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct node {
  bool used;
  dev_t dev;
  ino_t ino;
  char *name;  /* part of the key, or NULL */
  char *value; /* the caller's, freed with the set, or NULL */
};

struct node_set {
  struct node *slots;
  size_t cap; /* 0 or a power of two */
  size_t len;
};

/* The node with this key, or NULL. */
struct node *node_set_find(const struct node_set *s, dev_t dev, ino_t ino, const char *name);

static inline bool node_set_has(const struct node_set *s, dev_t dev, ino_t ino, const char *name) {
  return node_set_find(s, dev, ino, name) != NULL;
}

/* Adds the key (a copy of NAME), or finds it when it is there already:
 * *ADDED says which.  NULL when out of memory. */
struct node *node_set_add(struct node_set *s, dev_t dev, ino_t ino, const char *name, bool *added);

void node_set_free(struct node_set *s);

#endif
