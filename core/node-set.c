#include "config.h"
#include "node-set.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t node_hash(dev_t dev, ino_t ino, const char *name) {
  uint64_t h = 14695981039346656037ULL;
  h = (h ^ (uint64_t)dev) * 1099511628211ULL;
  h = (h ^ (uint64_t)ino) * 1099511628211ULL;
  if (name != NULL)
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
      h = (h ^ *p) * 1099511628211ULL;
  return h ^ (h >> 31);
}

/* open addressing, linear probing: the slot of the key, or the free slot
 * where it would go */
static struct node *node_slot(struct node *slots, size_t cap, dev_t dev, ino_t ino,
                              const char *name) {
  size_t i = (size_t)node_hash(dev, ino, name) & (cap - 1);
  for (;; i = (i + 1) & (cap - 1)) {
    struct node *n = &slots[i];
    if (!n->used)
      return n;
    if (n->dev == dev && n->ino == ino &&
        (name == NULL ? n->name == NULL : n->name != NULL && strcmp(n->name, name) == 0))
      return n;
  }
}

struct node *node_set_find(const struct node_set *s, dev_t dev, ino_t ino, const char *name) {
  struct node *n;
  if (s->cap == 0)
    return NULL;
  n = node_slot(s->slots, s->cap, dev, ino, name);
  return n->used ? n : NULL;
}

struct node *node_set_add(struct node_set *s, dev_t dev, ino_t ino, const char *name, bool *added) {
  struct node *n;

  *added = false;
  if ((s->len + 1) * 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 256;
    struct node *slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
      return NULL;
    for (size_t i = 0; i < s->cap; i++)
      if (s->slots[i].used)
        *node_slot(slots, cap, s->slots[i].dev, s->slots[i].ino, s->slots[i].name) = s->slots[i];
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
  }
  n = node_slot(s->slots, s->cap, dev, ino, name);
  if (n->used)
    return n;
  n->name = NULL;
  n->value = NULL;
  if (name != NULL && (n->name = strdup(name)) == NULL)
    return NULL;
  n->used = true;
  n->dev = dev;
  n->ino = ino;
  s->len++;
  *added = true;
  return n;
}

void node_set_free(struct node_set *s) {
  for (size_t i = 0; i < s->cap; i++) {
    free(s->slots[i].name);
    free(s->slots[i].value);
  }
  free(s->slots);
  *s = (struct node_set){0};
}
