#include "config.h"
#include "monitor.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "json-cleanup.h"
#include "jsonlog.h"
#include "layer-store.h"
#include "lifecycle.h"
#include "log.h"
#include "runspec.h"
#include "safe-path.h"

#define LOG_DOMAIN "monitor"
#define MAX_CLIENTS 16
#define EXIT_ENGINE_CODE 125 /* Docker's "the engine failed" */

/* ------------------------------------------------------------------ small helpers */

static int write_full(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int read_full(int fd, void *data, size_t len) {
  char *p = data;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int send_frame(int fd, int type, const void *data, uint32_t len) {
  unsigned char h[8] = {(unsigned char)type, 0, 0, 0, (unsigned char)(len >> 24),
                        (unsigned char)(len >> 16), (unsigned char)(len >> 8), (unsigned char)len};
  if (write_full(fd, h, sizeof(h)) < 0)
    return -1;
  return len ? write_full(fd, data, len) : 0;
}

/* Binds or connects a unix socket at PATH in the directory DIRFD: through
 * /proc/self/fd so the store's depth never meets sun_path's 108 bytes. */
static int unix_addr(int dirfd, const char *name, struct sockaddr_un *a) {
  memset(a, 0, sizeof(*a));
  a->sun_family = AF_UNIX;
  return snprintf(a->sun_path, sizeof(a->sun_path), "/proc/self/fd/%d/%s", dirfd, name) <
                 (int)sizeof(a->sun_path)
             ? 0
             : -1;
}

/* ------------------------------------------------------------------ the I/O thread */

struct client {
  int fd;
};

struct io {
  bool tty;
  int out, err;  /* the container's output: pipe read ends, or the terminal's master */
  int in;        /* the container's stdin: pipe write end or the master; -1 none */
  int log;       /* json-file log, -1 none */
  int local_in, local_out, local_err; /* this command's streams (foreground), -1 none */
  int listen;    /* attach socket, -1 none */
  int wake[2];   /* the main thread says: the container exited (exit code follows) */
  int winch[2];  /* SIGWINCH arrived (foreground terminal) */
  struct client clients[MAX_CLIENTS];
  size_t nclients;
  struct strata_jsonlog_splitter split[2];
  int exit_code;
  pthread_t thread;
  bool running;
};

static void io_init(struct io *io) {
  memset(io, 0, sizeof(*io));
  io->out = io->err = io->in = io->log = -1;
  io->local_in = io->local_out = io->local_err = io->listen = -1;
  io->wake[0] = io->wake[1] = io->winch[0] = io->winch[1] = -1;
}

static void close_fd(int *fd) {
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

struct log_ctx {
  struct io *io;
  int stream;
};

static void log_emit(void *data, const char *msg, size_t len) {
  struct log_ctx *lc = data;
  cleanup_free char *now = strata_now_rfc3339();
  size_t n = 0;
  cleanup_free char *line = now ? strata_jsonlog_format(lc->stream, msg, len, now, &n) : NULL;
  /* one write per line on an O_APPEND file: a reader never sees half of it */
  if (line != NULL && write_full(lc->io->log, line, n) < 0)
    log_debug("cannot write the container's log: %s", strerror(errno));
}

static void drop_client(struct io *io, size_t i) {
  close(io->clients[i].fd);
  io->clients[i] = io->clients[--io->nclients];
}

/* Output of STREAM: to the log, our own stream and every attached client. */
static void io_output(struct io *io, int stream, const char *buf, size_t n) {
  int local = stream == STRATA_STREAM_STDERR ? io->local_err : io->local_out;
  if (io->log >= 0) {
    struct log_ctx lc = {io, stream};
    strata_jsonlog_split(&io->split[stream - 1], buf, n, log_emit, &lc);
  }
  if (local >= 0 && write_full(local, buf, n) < 0) {
    /* a closed pipe on our side must not stop the container: keep logging */
    if (stream == STRATA_STREAM_STDERR)
      io->local_err = -1;
    else
      io->local_out = -1;
  }
  for (size_t i = 0; i < io->nclients;)
    if (send_frame(io->clients[i].fd, stream, buf, (uint32_t)n) < 0)
      drop_client(io, i);
    else
      i++;
}

/* Reads what FD has; returns false at its end. */
static bool io_pump(struct io *io, int *fd, int stream) {
  char buf[8192];
  ssize_t n = read(*fd, buf, sizeof(buf));
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  if (n <= 0) {
    /* EIO: the terminal's last slave is gone */
    if (*fd != io->in)
      close(*fd);
    *fd = -1;
    return false;
  }
  io_output(io, stream, buf, (size_t)n);
  return true;
}

static void io_stdin(struct io *io, const char *buf, size_t n) {
  if (io->in >= 0 && write_full(io->in, buf, n) < 0 && !io->tty)
    close_fd(&io->in);
}

static void io_close_stdin(struct io *io) {
  /* a terminal's master is the output too: only a pipe is closed */
  if (!io->tty)
    close_fd(&io->in);
}

static void io_resize(struct io *io, unsigned rows, unsigned cols) {
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  if (io->tty && io->out >= 0 && rows > 0 && cols > 0)
    ioctl(io->out, TIOCSWINSZ, &ws);
}

static void io_client_frame(struct io *io, size_t i) {
  unsigned char h[8];
  char buf[65536];
  uint32_t len;
  int fd = io->clients[i].fd;
  if (read_full(fd, h, sizeof(h)) < 0) {
    drop_client(io, i);
    return;
  }
  len = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
  if (len > sizeof(buf) || read_full(fd, buf, len) < 0) {
    drop_client(io, i);
    return;
  }
  if (h[0] == STRATA_FRAME_STDIN)
    io_stdin(io, buf, len);
  else if (h[0] == STRATA_FRAME_RESIZE && len == 4)
    io_resize(io, (unsigned)(unsigned char)buf[0] << 8 | (unsigned char)buf[1],
              (unsigned)(unsigned char)buf[2] << 8 | (unsigned char)buf[3]);
  else if (h[0] == STRATA_FRAME_CLOSE_STDIN)
    io_close_stdin(io);
}

static void io_accept(struct io *io) {
  int fd = accept4(io->listen, NULL, NULL, SOCK_CLOEXEC);
  struct timeval tv = {.tv_sec = 5};
  if (fd < 0)
    return;
  if (io->nclients == MAX_CLIENTS) {
    close(fd);
    return;
  }
  /* a client that stops reading is dropped rather than stalling the container */
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  io->clients[io->nclients++].fd = fd;
}

static void io_drain(struct io *io) {
  /* the container is gone; whatever it wrote is in the pipes or the master */
  for (int *fd = &io->out, s = STRATA_STREAM_STDOUT; s <= STRATA_STREAM_STDERR;
       fd = &io->err, s++) {
    if (*fd < 0)
      continue;
    fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK);
    while (*fd >= 0) {
      char buf[8192];
      ssize_t n = read(*fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      io_output(io, s, buf, (size_t)n);
    }
  }
  if (io->log >= 0)
    for (int s = STRATA_STREAM_STDOUT; s <= STRATA_STREAM_STDERR; s++) {
      struct log_ctx lc = {io, s};
      strata_jsonlog_flush(&io->split[s - 1], log_emit, &lc);
    }
}

static void *io_main(void *arg) {
  struct io *io = arg;
  struct pollfd p[8 + MAX_CLIENTS];
  sigset_t all;

  /* signals are the main thread's business (the backend forwards them) */
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  for (;;) {
    size_t n = 0, first_client;
    int r;
    p[n++] = (struct pollfd){.fd = io->wake[0], .events = POLLIN};
    p[n++] = (struct pollfd){.fd = io->out, .events = POLLIN};
    p[n++] = (struct pollfd){.fd = io->err, .events = POLLIN};
    p[n++] = (struct pollfd){.fd = io->in >= 0 ? io->local_in : -1, .events = POLLIN};
    p[n++] = (struct pollfd){.fd = io->listen, .events = POLLIN};
    p[n++] = (struct pollfd){.fd = io->winch[0], .events = POLLIN};
    first_client = n;
    for (size_t i = 0; i < io->nclients; i++)
      p[n++] = (struct pollfd){.fd = io->clients[i].fd, .events = POLLIN};
    r = poll(p, n, -1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      break;
    if (p[1].revents)
      io_pump(io, &io->out, STRATA_STREAM_STDOUT);
    if (p[2].revents)
      io_pump(io, &io->err, STRATA_STREAM_STDERR);
    if (p[3].revents) {
      char buf[8192];
      ssize_t k = read(io->local_in, buf, sizeof(buf));
      if (k > 0)
        io_stdin(io, buf, (size_t)k);
      else if (k == 0 || (errno != EINTR && errno != EAGAIN)) {
        io->local_in = -1; /* ours: not closed */
        io_close_stdin(io);
      }
    }
    if (p[4].revents)
      io_accept(io);
    if (p[5].revents) {
      struct winsize ws;
      char c;
      if (read(io->winch[0], &c, 1) > 0 && io->local_out >= 0 &&
          ioctl(io->local_out, TIOCGWINSZ, &ws) == 0)
        io_resize(io, ws.ws_row, ws.ws_col);
    }
    /* clients last, from the end: drop_client moves the last one */
    for (size_t i = n; i-- > first_client;)
      if (p[i].revents && i - first_client < io->nclients)
        io_client_frame(io, i - first_client);
    if (p[0].revents) {
      int code;
      if (read_full(io->wake[0], &code, sizeof(code)) < 0)
        code = STRATA_EXIT_UNKNOWN;
      io->exit_code = code;
      break;
    }
  }
  io_drain(io);
  {
    unsigned char c[4] = {(unsigned char)(io->exit_code >> 24), (unsigned char)(io->exit_code >> 16),
                          (unsigned char)(io->exit_code >> 8), (unsigned char)io->exit_code};
    while (io->nclients > 0) {
      send_frame(io->clients[0].fd, STRATA_FRAME_EXIT, c, 4);
      drop_client(io, 0);
    }
  }
  return NULL;
}

static int io_start(struct io *io, struct strata_error **err) {
  int r;
  if (io->wake[0] < 0 && pipe2(io->wake, O_CLOEXEC) < 0)
    return strata_error_set(err, errno, "cannot start the container's I/O");
  r = pthread_create(&io->thread, NULL, io_main, io);
  if (r != 0)
    return strata_error_set(err, r, "cannot start the container's I/O thread");
  io->running = true;
  return 0;
}

static void io_stop(struct io *io, int exit_code) {
  if (io->running) {
    if (write_full(io->wake[1], &exit_code, sizeof(exit_code)) < 0)
      log_warning("cannot tell the I/O thread the container exited");
    pthread_join(io->thread, NULL);
    io->running = false;
  }
  if (io->out != io->in)
    close_fd(&io->in);
  io->in = -1;
  close_fd(&io->out);
  close_fd(&io->err);
  close_fd(&io->log);
  close_fd(&io->listen);
  for (int i = 0; i < 2; i++) {
    close_fd(&io->wake[i]);
    close_fd(&io->winch[i]);
  }
}

/* ------------------------------------------------------------------ the terminal */

static int winch_fd = -1;
static void on_winch(int sig) {
  char c = 0;
  (void)sig;
  if (winch_fd >= 0 && write(winch_fd, &c, 1) < 0) {
    /* a full pipe already says "resize" */
  }
}

struct term {
  bool raw;
  struct termios saved;
  struct sigaction old_winch;
  bool winch;
};

/* Puts our terminal (fd 0) in raw mode while a container's terminal is
 * attached, and forwards its size changes. */
static void term_enter(struct term *t, struct io *io) {
  struct termios raw;
  struct sigaction sa = {.sa_handler = on_winch, .sa_flags = SA_RESTART};
  if (io->local_out >= 0 && isatty(io->local_out) && pipe2(io->winch, O_CLOEXEC | O_NONBLOCK) == 0) {
    winch_fd = io->winch[1];
    sigemptyset(&sa.sa_mask);
    sigaction(SIGWINCH, &sa, &t->old_winch);
    t->winch = true;
  }
  if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &t->saved) == 0) {
    raw = t->saved;
    cfmakeraw(&raw);
    /* keep output processing: our own messages still end lines properly */
    raw.c_oflag |= OPOST;
    if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0)
      t->raw = true;
  }
}

static void term_leave(struct term *t) {
  if (t->raw)
    tcsetattr(STDIN_FILENO, TCSADRAIN, &t->saved);
  if (t->winch) {
    sigaction(SIGWINCH, &t->old_winch, NULL);
    winch_fd = -1;
  }
  t->raw = t->winch = false;
}

/* Receives the terminal master a backend sent over SOCK (SCM_RIGHTS). */
static int recv_master(int sock) {
  char byte;
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                     .msg_controllen = sizeof(cbuf)};
  struct cmsghdr *c;
  int fd = -1;
  ssize_t n;
  do
    n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    return -1;
  for (c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return fd;
}

/* ------------------------------------------------------------------ a session */

/* The size of the terminal the command was started from, taken before a
 * detached monitor lets go of it (Docker sizes `run -dt` the same way). */
static struct winsize caller_ws;

static void caller_ws_read(void) {
  if (ioctl(STDIN_FILENO, TIOCGWINSZ, &caller_ws) < 0 &&
      ioctl(STDOUT_FILENO, TIOCGWINSZ, &caller_ws) < 0)
    memset(&caller_ws, 0, sizeof(caller_ws));
}

/* What one container process (run or exec) needs around the backend call:
 * its stdio (pipes, a terminal, or ours), the I/O thread, the terminal
 * state, and what the started callback does. */
struct session {
  struct io io;
  struct term term;
  bool capture;      /* pipes and the I/O thread (else the process gets our streams) */
  bool console;      /* the backend makes the terminal and sends its master */
  int child_fds[3];  /* the process's ends, closed once it runs */
  int console_peer;  /* our end of the console socket */
  int devnull;
  bool foreground;
  bool started;
  int pid;
  /* the monitor's own work in the started callback */
  void (*on_started)(struct session *s, int pid);
  void *data;
  struct strata_error *err; /* an error of the started callback */
};

static void session_init(struct session *s) {
  memset(s, 0, sizeof(*s));
  io_init(&s->io);
  s->child_fds[0] = s->child_fds[1] = s->child_fds[2] = -1;
  s->console_peer = s->devnull = -1;
}

/* Fills SPEC's stdio/console members.  FOREGROUND: our streams take part;
 * CAPTURE: the output goes through the I/O thread (logs, attach). */
static int session_prepare(struct session *s, struct strata_plugin *iso,
                           struct strata_run_spec *spec, bool foreground, bool capture,
                           struct strata_error **err) {
  const struct strata_isolation_ops *ops = iso->info->ops;
  s->foreground = foreground;
  s->capture = capture || spec->tty;
  spec->stdio[0] = spec->stdio[1] = spec->stdio[2] = -1;
  spec->console_socket = -1;
  spec->console_rows = spec->console_cols = 0;
  s->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (s->devnull < 0)
    return strata_error_set(err, errno, "cannot open /dev/null");
  if (foreground) {
    s->io.local_out = STDOUT_FILENO;
    s->io.local_err = STDERR_FILENO;
    if (spec->interactive)
      s->io.local_in = STDIN_FILENO;
  }
  if (spec->tty) {
    struct winsize ws;
    s->io.tty = true;
    if (foreground)
      caller_ws_read();
    ws = caller_ws;
    if (ops->caps & STRATA_ISOLATION_CAP_CONSOLE) {
      int sv[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return strata_error_set(err, errno, "cannot create the console socket");
      s->console = true;
      s->console_peer = sv[0];
      s->child_fds[0] = sv[1];
      spec->console_socket = sv[1];
      spec->console_rows = ws.ws_row;
      spec->console_cols = ws.ws_col;
    } else {
      int master, slave;
      if (openpty(&master, &slave, NULL, NULL, ws.ws_row ? &ws : NULL) < 0)
        return strata_error_set(err, errno, "cannot allocate a terminal");
      fcntl(master, F_SETFD, FD_CLOEXEC);
      fcntl(slave, F_SETFD, FD_CLOEXEC);
      s->io.out = master;
      s->io.in = master;
      s->child_fds[0] = slave;
      spec->stdio[0] = spec->stdio[1] = spec->stdio[2] = slave;
    }
    return 0;
  }
  if (!s->capture) {
    /* the process gets our streams (stdin only with -i, as Docker) */
    spec->stdio[0] = spec->interactive ? STDIN_FILENO : s->devnull;
    return 0;
  }
  {
    int out[2], errp[2], in[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) < 0)
      return strata_error_set(err, errno, "cannot create the container's pipes");
    if (pipe2(errp, O_CLOEXEC) < 0) {
      close(out[0]);
      close(out[1]);
      return strata_error_set(err, errno, "cannot create the container's pipes");
    }
    s->io.out = out[0];
    s->io.err = errp[0];
    s->child_fds[1] = out[1];
    s->child_fds[2] = errp[1];
    spec->stdio[1] = out[1];
    spec->stdio[2] = errp[1];
    if (spec->interactive) {
      if (pipe2(in, O_CLOEXEC) < 0)
        return strata_error_set(err, errno, "cannot create the container's pipes");
      s->io.in = in[1];
      s->child_fds[0] = in[0];
      spec->stdio[0] = in[0];
    } else {
      spec->stdio[0] = s->devnull;
    }
  }
  return 0;
}

static void session_started(void *opaque, int pid) {
  struct session *s = opaque;
  s->started = true;
  s->pid = pid;
  /* the process has its copies now: ours would keep its pipes open */
  for (int i = 0; i < 3; i++)
    close_fd(&s->child_fds[i]);
  if (s->console) {
    int master = recv_master(s->console_peer);
    if (master < 0) {
      log_warning("the isolation backend sent no terminal; the container's output is lost");
    } else {
      s->io.out = master;
      s->io.in = master;
    }
  }
  if (s->on_started)
    s->on_started(s, pid);
  if (s->capture && !s->io.running) {
    cleanup_error struct strata_error *e = NULL;
    if (s->foreground && s->io.tty)
      term_enter(&s->term, &s->io);
    if (s->io.out < 0 && s->io.err < 0 && s->io.in < 0)
      return; /* nothing to copy */
    if (io_start(&s->io, &e) < 0)
      log_warning("%s", e->msg);
  }
}

/* After the backend returned with CODE. */
static void session_end(struct session *s, int code) {
  for (int i = 0; i < 3; i++)
    close_fd(&s->child_fds[i]);
  io_stop(&s->io, code);
  term_leave(&s->term);
  close_fd(&s->console_peer);
  close_fd(&s->devnull);
}

static int exit_code_of(int r) {
  return r >= 0 ? r : r == STRATA_RUN_NOT_FOUND ? 127 : r == STRATA_RUN_CANNOT_EXEC ? 126 : 125;
}

/* ------------------------------------------------------------------ the monitor */

struct monitor {
  struct strata_context *ctx;
  const char *id;
  const char *isolation;
  const char *log_path;
  int sync_fd; /* detached: tells the command the container runs (or why not) */
};

struct sync_msg {
  int code;
  char msg[1020];
};

static void sync_send(struct monitor *m, int code, const char *msg) {
  struct sync_msg sm = {.code = code};
  if (m->sync_fd < 0)
    return;
  snprintf(sm.msg, sizeof(sm.msg), "%s", msg ? msg : "");
  if (write_full(m->sync_fd, &sm, sizeof(sm)) < 0) {
    /* the command is gone; the container runs regardless */
  }
  close(m->sync_fd);
  m->sync_fd = -1;
}

static void set_now(json_t *st, const char *key) {
  cleanup_free char *now = strata_now_rfc3339();
  if (now)
    json_object_set_new(st, key, json_string(now));
}

/* Records the running container (the store is still locked from the start). */
static void monitor_started(struct session *s, int pid) {
  struct monitor *m = s->data;
  cleanup_error struct strata_error *e = NULL;
  cleanup_json json_t *rec = NULL;
  json_t *st;

  if (strata_context_store(m->ctx, true, &e) < 0 ||
      strata_container_load(m->ctx->store, m->id, &rec, &e) != 0 || rec == NULL) {
    log_warning("cannot record the start of %.12s: %s", m->id, e ? e->msg : "no record");
  } else {
    st = json_object_get(rec, "State");
    json_object_set_new(st, "Status", json_string("running"));
    json_object_set_new(st, "Running", json_true());
    json_object_set_new(st, "Pid", json_integer(pid));
    json_object_set_new(st, "ExitCode", json_integer(0));
    json_object_set_new(st, "StrataPidStart", json_integer((json_int_t)strata_proc_start_time(pid)));
    json_object_set_new(st, "StrataMonitorPid", json_integer(getpid()));
    json_object_set_new(st, "StrataMonitorStart",
                        json_integer((json_int_t)strata_proc_start_time(getpid())));
    set_now(st, "StartedAt");
    json_object_set_new(st, "FinishedAt", json_string("0001-01-01T00:00:00Z"));
    json_object_set_new(rec, "Isolation", json_string(m->isolation));
    if (m->log_path)
      json_object_set_new(rec, "LogPath", json_string(m->log_path));
    if (strata_container_save(m->ctx->store, rec, &e) < 0)
      log_warning("cannot record the start of %.12s: %s", m->id, e->msg);
  }
  /* the container may run for days: let other commands in meanwhile */
  strata_store_unlock(m->ctx->store);
  sync_send(m, 0, NULL);
}

/* Docker creates a missing working directory; do it inside the root only. */
static int ensure_workdir(const char *rootfs, const char *cwd, struct strata_error **err) {
  cleanup_close int rootfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return strata_error_set(err, errno, "cannot open '%s'", rootfs);
  return strata_mkdir_p_at(rootfd, cwd, 0755, err);
}

/* Docker's -v creates a missing host directory (as root, 0755). */
static int ensure_bind_sources(const struct strata_runspec *rs, struct strata_error **err) {
  for (size_t i = 0; i < rs->spec.nmounts; i++) {
    const struct strata_mount *m = &rs->spec.mounts[i];
    cleanup_close int slash = -1;
    if (m->type != STRATA_MOUNT_BIND || access(m->source, F_OK) == 0)
      continue;
    if (errno != ENOENT)
      return strata_error_set(err, errno, "invalid mount source '%s'", m->source);
    slash = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (slash < 0 || strata_mkdir_p_at(slash, m->source + 1, 0755, err) < 0)
      return slash < 0 ? strata_error_set(err, errno, "cannot open /") : -1;
  }
  return 0;
}

/* Refuses what backend ISO would silently ignore: a security setting or a
 * mount (chroot shares the host's network whatever is asked: it says it
 * does not isolate), a user namespace, resource limits. */
static int check_backend_can(const struct strata_plugin *iso, const struct strata_runspec *rs,
                             struct strata_error **err) {
  const struct strata_isolation_ops *iops = iso->info->ops;
  if (!(iops->caps & STRATA_ISOLATION_CAP_SECURITY) &&
      (rs->spec.caps != STRATA_DEFAULT_CAPS || rs->spec.nmounts > 0 ||
       (rs->spec.run_flags & ~STRATA_RUN_NETWORK_HOST) != 0))
    return strata_error_set(err, 0, "isolation backend '%s' cannot apply --cap-add, --cap-drop, "
                                    "--privileged, --security-opt, --read-only, -v or --tmpfs",
                            iso->info->name);
  if (rs->spec.userns_size > 0 && !(iops->caps & STRATA_ISOLATION_CAP_USERNS))
    return strata_error_set(err, 0, "isolation backend '%s' cannot run a container in a user "
                                    "namespace (--userns)", iso->info->name);
  if ((rs->spec.memory || rs->spec.pids_limit || rs->spec.nano_cpus) &&
      !(iops->caps & STRATA_ISOLATION_CAP_LIMITS))
    return strata_error_set(err, 0, "isolation backend '%s' cannot enforce --memory, --pids-limit "
                                    "or --cpus", iso->info->name);
  return 0;
}

/* containers/ID/: the log and the attach socket.  Returns its fd. */
static int container_dir(struct strata_store *store, const char *id, struct strata_error **err) {
  char rel[128];
  int fd;
  snprintf(rel, sizeof(rel), STRATA_CONTAINER_DIR_FMT, id);
  if (mkdirat(store->rootfd, rel, 0700) < 0 && errno != EEXIST)
    return strata_error_set(err, errno, "cannot create '%s/%s'", store->root, rel);
  fd = openat(store->rootfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return strata_error_set(err, errno, "cannot open '%s/%s'", store->root, rel);
  return fd;
}

static int attach_listen(int dirfd) {
  struct sockaddr_un a;
  int fd;
  unlinkat(dirfd, "attach", 0);
  if (unix_addr(dirfd, "attach", &a) < 0)
    return -1;
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* The whole life of container ID in this process; returns its exit code or
 * 125/126/127 with *err. */
static int monitor_run(struct strata_context *ctx, const char *id, bool foreground, int sync_fd,
                       struct strata_error **err) {
  const struct strata_storage_ops *ops;
  void *state;
  struct strata_plugin *iso;
  const struct strata_isolation_ops *iops;
  struct strata_runspec rs;
  struct session s;
  struct monitor m = {.ctx = ctx, .id = id, .sync_fd = sync_fd};
  cleanup_json json_t *rec = NULL;
  cleanup_free char *rootfs = NULL;
  cleanup_free char *log_path = NULL;
  cleanup_close int dirfd = -1;
  bool new_abi, auto_remove;
  int r, code;

  session_init(&s);
  if (strata_context_store(ctx, true, err) < 0 || strata_context_storage(ctx, &ops, &state, err) < 0)
    return EXIT_ENGINE_CODE;
  r = strata_container_load(ctx->store, id, &rec, err);
  if (r != 0) {
    if (r == 1)
      strata_error_set(err, 0, "No such container: %s", id);
    return EXIT_ENGINE_CODE;
  }
  auto_remove = json_is_true(json_object_get(json_object_get(rec, "HostConfig"), "AutoRemove"));
  if (strata_container_state(rec, NULL) == STRATA_STATE_RUNNING) {
    strata_error_set(err, 0, "container %.12s is already running", id);
    return EXIT_ENGINE_CODE;
  }
  if (strata_context_isolation(ctx, &iso, err) < 0)
    return EXIT_ENGINE_CODE;
  iops = iso->info->ops;
  new_abi = iso->info->abi_minor >= 2;
  m.isolation = iso->info->name;
  if (ops->container_mount(state, id, &rootfs, err) < 0)
    return EXIT_ENGINE_CODE;
  if (strata_runspec_build(json_object_get(rec, "Config"), id, rootfs, &rs, err) < 0)
    goto fail_unmount;
  if (ensure_workdir(rootfs, rs.cwd, err) < 0)
    goto fail_clear;
  {
    json_t *hc = json_object_get(rec, "HostConfig");
    rs.spec.memory = json_integer_value(json_object_get(hc, "Memory"));
    rs.spec.pids_limit = json_integer_value(json_object_get(hc, "PidsLimit"));
    rs.spec.nano_cpus = json_integer_value(json_object_get(hc, "NanoCpus"));
    if (strata_runspec_apply_host_config(&rs, hc, err) < 0 || check_backend_can(iso, &rs, err) < 0 ||
        ensure_bind_sources(&rs, err) < 0)
      goto fail_clear;
  }
  /* the log and the attach socket */
  dirfd = container_dir(ctx->store, id, err);
  if (dirfd < 0)
    goto fail_clear;
  if (asprintf(&log_path, "%s/" STRATA_CONTAINER_DIR_FMT "/%s-json.log", ctx->store->root, id,
               id) < 0)
    log_path = NULL;
  m.log_path = log_path;
  s.data = &m;
  s.on_started = monitor_started;
  if (new_abi) {
    char name[80];
    snprintf(name, sizeof(name), "%s-json.log", id);
    if (session_prepare(&s, iso, &rs.spec, foreground, true, err) < 0)
      goto fail_clear;
    s.io.log = openat(dirfd, name, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (s.io.log < 0) {
      strata_error_set(err, errno, "cannot open the container's log '%s'", log_path);
      goto fail_clear;
    }
    s.io.listen = attach_listen(dirfd);
    rs.spec.started = session_started;
    rs.spec.opaque = &s;
    /* pipes: the thread runs from the start so a chatty container never
     * blocks before its start is recorded; a terminal's master arrives with
     * the start */
    if (!s.io.tty && io_start(&s.io, err) < 0)
      goto fail_clear;
  } else {
    /* a backend built before ABI 1.2 knows neither stdio nor the started
     * callback: the container gets our streams, and no log */
    rs.spec.size = offsetof(struct strata_run_spec, stdio);
    log_warning("isolation backend '%s' predates plugin ABI 1.2: no logs, no PID", iso->info->name);
    monitor_started(&s, 0);
  }
  fflush(stdout);
  fflush(stderr);
  r = iops->run(iso->state, &rs.spec, err);
  code = exit_code_of(r);
  session_end(&s, code);
  strata_runspec_clear(&rs);
  if (!s.started && new_abi) {
    /* it never ran: give the store back and say why */
    strata_store_unlock(ctx->store);
    sync_send(&m, code, err && *err ? (*err)->msg : "the container did not start");
  }
  {
    cleanup_error struct strata_error *e = NULL;
    cleanup_json json_t *now_rec = NULL;
    if (strata_context_store(ctx, true, &e) == 0 &&
        strata_container_load(ctx->store, id, &now_rec, &e) == 0) {
      json_t *st = json_object_get(now_rec, "State");
      json_object_set_new(st, "Status", json_string("exited"));
      json_object_set_new(st, "Running", json_false());
      json_object_set_new(st, "Pid", json_integer(0));
      json_object_set_new(st, "ExitCode", json_integer(code));
      set_now(st, "FinishedAt");
      if (!s.started) {
        set_now(st, "StartedAt");
        if (err && *err)
          json_object_set_new(st, "Error", json_string((*err)->msg));
      }
      strata_container_measure(ctx, now_rec);
      if (strata_container_save(ctx->store, now_rec, &e) < 0)
        log_warning("cannot record the exit of %.12s: %s", id, e->msg);
    }
  }
  unlinkat(dirfd, "attach", 0);
  {
    cleanup_error struct strata_error *e = NULL;
    if (ops->container_unmount(state, id, &e) < 0)
      log_warning("cannot unmount %.12s: %s", id, e->msg);
  }
  if (auto_remove) {
    cleanup_error struct strata_error *e = NULL;
    if (strata_container_destroy(ctx, id, &e) < 0)
      log_warning("cannot remove %.12s: %s", id, e->msg);
  }
  strata_store_unlock(ctx->store);
  return code;

fail_clear:
  session_end(&s, EXIT_ENGINE_CODE);
  strata_runspec_clear(&rs);
fail_unmount: {
  cleanup_error struct strata_error *e = NULL;
  ops->container_unmount(state, id, &e);
  strata_error_clear(&e);
  /* --rm: a container that could not start goes too, as with Docker */
  if (auto_remove && strata_container_destroy(ctx, id, &e) < 0)
    log_warning("cannot remove %.12s: %s", id, e->msg);
}
  strata_store_unlock(ctx->store);
  sync_send(&m, EXIT_ENGINE_CODE, err && *err ? (*err)->msg : "cannot start the container");
  return EXIT_ENGINE_CODE;
}

/* Forks a process in a new session that outlives this one (double fork: it
 * is nobody's child but init's, and never gets a controlling terminal).
 * Returns 0 in it, 1 in the caller, -1 on failure. */
static int daemonize(struct strata_error **err) {
  pid_t pid;
  int status;
  fflush(stdout);
  fflush(stderr);
  pid = fork();
  if (pid < 0)
    return strata_error_set(err, errno, "cannot start the container monitor");
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (setsid() < 0)
      _exit(1);
    pid = fork();
    if (pid != 0)
      _exit(pid < 0 ? 1 : 0);
    /* our caller's terminal and pipes are not ours to hold open */
    if (null >= 0) {
      dup2(null, STDIN_FILENO);
      dup2(null, STDOUT_FILENO);
      dup2(null, STDERR_FILENO);
      if (null > STDERR_FILENO)
        close(null);
    }
    signal(SIGHUP, SIG_IGN);
    return 0;
  }
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return strata_error_set(err, 0, "cannot start the container monitor");
  return 1;
}

/* Waits for the detached side's word on SYNC_FD. */
static int sync_wait(int fd, const char *what, struct strata_error **err) {
  struct sync_msg sm;
  if (read_full(fd, &sm, sizeof(sm)) < 0)
    return strata_error_set(err, 0, "the %s exited before the container started", what),
           EXIT_ENGINE_CODE;
  sm.msg[sizeof(sm.msg) - 1] = '\0';
  if (sm.code != 0)
    strata_error_set(err, 0, "%s", sm.msg);
  return sm.code;
}

int strata_monitor_start(struct strata_context *ctx, const char *id,
                         const struct strata_monitor_options *opts, struct strata_error **err) {
  int sync[2], r;

  signal(SIGPIPE, SIG_IGN);
  if (!opts->detach)
    return monitor_run(ctx, id, true, -1, err);
  if (pipe2(sync, O_CLOEXEC) < 0)
    return strata_error_set(err, errno, "cannot start the container monitor"), EXIT_ENGINE_CODE;
  caller_ws_read();
  /* the monitor takes the lock itself */
  if (ctx->store)
    strata_store_unlock(ctx->store);
  r = daemonize(err);
  if (r < 0) {
    close(sync[0]);
    close(sync[1]);
    return EXIT_ENGINE_CODE;
  }
  if (r == 0) {
    cleanup_error struct strata_error *e = NULL;
    close(sync[0]);
    /* a lock of our own: the command's lock description is shared with us */
    if (ctx->store && strata_store_reopen_lock(ctx->store, &e) < 0) {
      struct monitor m = {.sync_fd = sync[1]};
      sync_send(&m, EXIT_ENGINE_CODE, e->msg);
      _exit(1);
    }
    monitor_run(ctx, id, false, sync[1], &e);
    _exit(0);
  }
  close(sync[1]);
  r = sync_wait(sync[0], "container monitor", err);
  close(sync[0]);
  return r;
}

/* ------------------------------------------------------------------ exec */

struct exec_data {
  int sync_fd;
};

static void exec_started(struct session *s, int pid) {
  struct exec_data *d = s->data;
  (void)pid;
  if (d->sync_fd >= 0) {
    struct monitor m = {.sync_fd = d->sync_fd};
    sync_send(&m, 0, NULL);
    d->sync_fd = -1;
  }
}

int strata_monitor_exec(struct strata_plugin *iso, struct strata_run_spec *spec, int pid,
                        bool detach, struct strata_error **err) {
  const struct strata_isolation_ops *ops = iso->info->ops;
  struct exec_data d = {.sync_fd = -1};
  struct session s;
  int sync[2] = {-1, -1}, r, code;

  signal(SIGPIPE, SIG_IGN);
  if (detach) {
    if (pipe2(sync, O_CLOEXEC) < 0)
      return strata_error_set(err, errno, "cannot start the process"), EXIT_ENGINE_CODE;
    r = daemonize(err);
    if (r < 0)
      return EXIT_ENGINE_CODE;
    if (r == 1) {
      close(sync[1]);
      r = sync_wait(sync[0], "exec process", err);
      close(sync[0]);
      return r;
    }
    close(sync[0]);
    d.sync_fd = sync[1];
    spec->interactive = 0;
    spec->tty = 0;
  }
  session_init(&s);
  s.data = &d;
  s.on_started = exec_started;
  /* without a terminal the process simply gets our streams: no copying */
  if (session_prepare(&s, iso, spec, !detach, false, err) < 0) {
    session_end(&s, EXIT_ENGINE_CODE);
    if (detach) {
      struct monitor m = {.sync_fd = d.sync_fd};
      sync_send(&m, EXIT_ENGINE_CODE, (*err)->msg);
      _exit(0);
    }
    return EXIT_ENGINE_CODE;
  }
  if (detach)
    spec->stdio[0] = spec->stdio[1] = spec->stdio[2] = s.devnull;
  spec->started = session_started;
  spec->opaque = &s;
  fflush(stdout);
  fflush(stderr);
  r = ops->exec(iso->state, spec, pid, err);
  code = exit_code_of(r);
  session_end(&s, code);
  if (detach) {
    struct monitor m = {.sync_fd = d.sync_fd};
    if (d.sync_fd >= 0)
      sync_send(&m, code, err && *err ? (*err)->msg : "the process did not start");
    _exit(0);
  }
  return code;
}

/* ------------------------------------------------------------------ attach */

int strata_monitor_attach(struct strata_store *store, const char *id, bool stdin_too,
                          struct strata_error **err) {
  char rel[128];
  struct sockaddr_un a;
  cleanup_close int dirfd = -1;
  cleanup_close int fd = -1;
  struct term term = {0};
  struct io io;
  bool tty_in = stdin_too && isatty(STDIN_FILENO);
  int code = -1;

  signal(SIGPIPE, SIG_IGN);
  snprintf(rel, sizeof(rel), STRATA_CONTAINER_DIR_FMT, id);
  dirfd = openat(store->rootfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (dirfd < 0 || fd < 0 || unix_addr(dirfd, "attach", &a) < 0 ||
      connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
    return strata_error_set(err, errno, "cannot attach to container %.12s: its monitor does not "
                                        "answer", id);
  io_init(&io);
  io.local_out = STDOUT_FILENO;
  if (tty_in) {
    /* raw mode and window size, as a terminal client */
    struct winsize ws;
    term_enter(&term, &io);
    if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
      unsigned char p[4] = {(unsigned char)(ws.ws_row >> 8), (unsigned char)ws.ws_row,
                            (unsigned char)(ws.ws_col >> 8), (unsigned char)ws.ws_col};
      send_frame(fd, STRATA_FRAME_RESIZE, p, 4);
    }
  }
  for (;;) {
    struct pollfd p[3] = {{.fd = fd, .events = POLLIN},
                          {.fd = stdin_too ? STDIN_FILENO : -1, .events = POLLIN},
                          {.fd = io.winch[0], .events = POLLIN}};
    int r = poll(p, 3, -1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      break;
    if (p[0].revents) {
      unsigned char h[8];
      char buf[65536];
      uint32_t len;
      if (read_full(fd, h, sizeof(h)) < 0)
        break;
      len = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
      if (len > sizeof(buf) || read_full(fd, buf, len) < 0)
        break;
      if (h[0] == STRATA_FRAME_EXIT && len == 4) {
        code = (int)((unsigned char)buf[0] << 24 | (unsigned char)buf[1] << 16 |
                     (unsigned char)buf[2] << 8 | (unsigned char)buf[3]);
        break;
      }
      write_full(h[0] == STRATA_FRAME_STDERR ? STDERR_FILENO : STDOUT_FILENO, buf, len);
    }
    if (p[1].revents) {
      char buf[8192];
      ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
      if (n > 0) {
        if (send_frame(fd, STRATA_FRAME_STDIN, buf, (uint32_t)n) < 0)
          break;
      } else if (n == 0 || errno != EINTR) {
        send_frame(fd, STRATA_FRAME_CLOSE_STDIN, NULL, 0);
        stdin_too = false;
      }
    }
    if (p[2].revents) {
      struct winsize ws;
      char c;
      if (read(io.winch[0], &c, 1) > 0 && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
        unsigned char q[4] = {(unsigned char)(ws.ws_row >> 8), (unsigned char)ws.ws_row,
                              (unsigned char)(ws.ws_col >> 8), (unsigned char)ws.ws_col};
        send_frame(fd, STRATA_FRAME_RESIZE, q, 4);
      }
    }
  }
  term_leave(&term);
  close_fd(&io.winch[0]);
  close_fd(&io.winch[1]);
  if (code < 0) {
    /* the monitor went away without a word: read what it recorded */
    cleanup_json json_t *rec = NULL;
    if (strata_container_load(store, id, &rec, NULL) == 0)
      strata_container_state(rec, &code);
    if (code < 0)
      code = STRATA_EXIT_UNKNOWN;
  }
  return code;
}

/* ------------------------------------------------------------------ removal */

int strata_container_destroy(struct strata_context *ctx, const char *id,
                             struct strata_error **err) {
  const struct strata_storage_ops *ops;
  void *state;
  cleanup_error struct strata_error *e = NULL;
  char rel[128];

  if (strata_context_store(ctx, true, err) < 0 || strata_context_storage(ctx, &ops, &state, err) < 0)
    return -1;
  ops->container_unmount(state, id, &e);
  strata_error_clear(&e);
  if (ops->container_remove(state, id, err) < 0)
    return -1;
  if (strata_container_remove_record(ctx->store, id, err) < 0)
    return -1;
  snprintf(rel, sizeof(rel), STRATA_CONTAINER_DIR_FMT, id);
  if (strata_remove_tree_at(ctx->store->rootfd, rel, &e) < 0 && e->errnum != ENOENT)
    log_warning("cannot remove '%s/%s': %s", ctx->store->root, rel, e->msg);
  strata_error_clear(&e);
  if (strata_layer_gc(ctx, NULL, NULL, &e) < 0)
    log_warning("cannot remove unused layers: %s", e->msg);
  return 0;
}

void strata_container_measure(struct strata_context *ctx, json_t *rec) {
  const struct strata_storage_ops *ops;
  void *state;
  cleanup_error struct strata_error *e = NULL;
  const char *id = json_string_value(json_object_get(rec, "Id"));
  uint64_t bytes = 0;

  if (id == NULL || strata_context_storage(ctx, &ops, &state, &e) < 0 || ops->version < 2 ||
      ops->container_usage == NULL)
    return;
  if (ops->container_usage(state, id, &bytes, &e) < 0) {
    log_warning("cannot measure container %.12s: %s", id, e->msg);
    return;
  }
  json_object_set_new(rec, "SizeRw", json_integer((json_int_t)bytes));
}
