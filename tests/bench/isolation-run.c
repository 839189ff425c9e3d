/* isolation-run.c - times one isolation plugin's probe() and run() alone,
 * without the core (no store, no storage driver): the backend's own share
 * of `strata run`.  Built and used by tests/bench/run.sh.
 *
 *   isolation-run PLUGIN.so ROOTFS N    runs /bin/true in ROOTFS N times
 *
 * Prints "probe MS run MS" (medians).  A stand-in host table: errors go to
 * stderr, logging is dropped. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <strata/plugin/host.h>
#include <strata/plugin/isolation.h>
#include <strata/plugin/plugin.h>

static int host_error(struct strata_error **err, int errnum, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("isolation-run: ", stderr);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, " (errno %d)\n", errnum);
  va_end(ap);
  return -1;
}
static int host_error_wrap(struct strata_error **err, const char *fmt, ...) { return -1; }
static void host_log(enum strata_log_level level, const char *domain, const char *fmt, ...) {}
static void host_error_free(struct strata_error *err) {}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  struct strata_host host = {.version = STRATA_HOST_VERSION, .size = sizeof(host),
                             .log = host_log, .error = host_error,
                             .error_wrap = host_error_wrap, .error_free = host_error_free};
  struct strata_plugin_context ctx = {.size = sizeof(ctx), .store_root = NULL, .data_dir = NULL};
  const char *args[] = {"/bin/true", NULL};
  const char *env[] = {"PATH=/bin:/usr/bin", NULL};
  struct strata_run_spec spec = {.size = sizeof(spec), .id = "bench", .argv = args, .env = env,
                                 .cwd = "/", .hostname = "bench"};
  const struct strata_plugin_info *info;
  const struct strata_isolation_ops *ops;
  strata_plugin_entry_fn entry;
  double *tp, *tr;
  void *so, *state = NULL;
  int n;

  if (argc != 4 || (n = atoi(argv[3])) <= 0) {
    fprintf(stderr, "usage: isolation-run PLUGIN.so ROOTFS N\n");
    return 2;
  }
  spec.rootfs = argv[2];
  so = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  entry = so ? (strata_plugin_entry_fn)dlsym(so, STRATA_PLUGIN_ENTRY_SYMBOL) : NULL;
  if (entry == NULL || (info = entry()) == NULL || info->kind != STRATA_PLUGIN_ISOLATION) {
    fprintf(stderr, "isolation-run: %s is not an isolation plugin\n", argv[1]);
    return 1;
  }
  ops = info->ops;
  if (info->init && info->init(&host, &ctx, &state, NULL) < 0)
    return 1;
  tp = calloc(n, sizeof(*tp));
  tr = calloc(n, sizeof(*tr));
  for (int i = 0; i < n; i++) {
    double t0 = now_ms(), t1;
    if (ops->probe(state, NULL) < 0)
      return 1;
    t1 = now_ms();
    if (ops->run(state, &spec, NULL) != 0)
      return 1;
    tp[i] = t1 - t0;
    tr[i] = now_ms() - t1;
  }
  qsort(tp, n, sizeof(*tp), cmp);
  qsort(tr, n, sizeof(*tr), cmp);
  printf("probe %.2f run %.2f\n", tp[n / 2], tr[n / 2]);
  if (info->fini)
    info->fini(state);
  return 0;
}
