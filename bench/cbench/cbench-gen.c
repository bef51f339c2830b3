/*
 * cbench-gen: the cbench-style OpenFlow 1.3 load generator of bench/cbench/generator.ts, in C
 * (C99 + POSIX + Linux epoll/timerfd, no other dependencies), so a round trip is timed by a
 * process that does nothing between a packet's arrival and its timestamp but return from
 * epoll_wait and read(): the Node generator's own event loop ran 3-11 ms late at p99 on this
 * machine, a floor no controller could be judged under (docs/cluster.md, "Capacity").
 *
 * The same load as generator.ts, byte for byte: N emulated switches (dpids 1..N) connect over TCP,
 * say HELLO (version bitmap: 1.3), answer FEATURES_REQUEST (n_buffers 0), GET_CONFIG_REQUEST,
 * ECHO_REQUEST, BARRIER_REQUEST, ROLE_REQUEST and MULTIPART_REQUEST PORT_DESC / FLOW / PORT_STATS
 * (4 ports), announce a destination host (02:ss:ss:ff:ff:ff on port 1), then send PACKET_INs for
 * new flows: a fresh source MAC 02:ss:ss:nn:nn:nn from `macs` (1,000) per switch, on ports 2-4,
 * an IPv4/UDP frame of 64 bytes carrying a sequence number at UDP payload offset 0. A packet-in is
 * answered by the PACKET_OUT carrying its frame (matched by that sequence number); FLOW_MODs are
 * not counted (learning switches and S-CORE install different numbers of them).
 *
 * Modes (as generator.ts):
 *   throughput  every switch keeps WINDOW (32) packet-ins outstanding; responses/s
 *   latency     one outstanding per switch, the next sent when the answer arrives (a closed loop)
 *   paced       RATE (1,000) packet-ins/s in all, round-robin over the switches, sent on an absolute
 *               schedule (timerfd, 1 ms period) whether or not earlier ones were answered
 *
 * Times: CLOCK_MONOTONIC, taken for each packet-in just before it is handed to write(), and for
 * each answer once when read() returns the bytes that hold it (before any parsing). The process
 * also keeps a 1 ms timerfd and records how late each expiry is handled, one sample per expiry
 * also when one wake-up catches up several ("generatorLoopDelayMs":
 * the C counterpart of the Node generator's event-loop delay: a round trip cannot be timed finer
 * than the process's own wake-up lateness).
 *
 * Usage (the arguments of bench/cbench/load-once.ts):
 *   cbench-gen PORT SWITCHES throughput|latency|paced SECONDS [WINDOW|RATE] [--warmup SECONDS]
 *              [--host 127.0.0.1] [--macs 1000] [--dump FILE]
 * (--dump: every measured round trip as a line "SENT_MS RTT_MS SWITCH", SENT_MS from the start of
 * the measured run, SWITCH the dpid that got the answer: when and where the slow ones happen)
 * Prints one JSON line (the shape of generator.ts's LoadResult, latencyMs with max added) on
 * stdout; "cbench-phase start" / "cbench-phase end" on stderr when the measured run starts and
 * ends. Latency and paced modes time only the packet-ins sent in the measured window, and wait up
 * to 2 s after it for their answers (`unanswered`: those still without one); throughput mode
 * counts every answer that arrives in the window. Exit 2 on bad arguments (a --dump FILE that
 * cannot be opened for writing among them: it is opened before any switch connects), 1 if the run
 * could not be made (no switch connected).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum { OFPT_HELLO = 0, OFPT_ECHO_REQUEST = 2, OFPT_ECHO_REPLY = 3, OFPT_FEATURES_REQUEST = 5,
       OFPT_FEATURES_REPLY = 6, OFPT_GET_CONFIG_REQUEST = 7, OFPT_GET_CONFIG_REPLY = 8,
       OFPT_PACKET_IN = 10, OFPT_PACKET_OUT = 13, OFPT_MULTIPART_REQUEST = 18,
       OFPT_MULTIPART_REPLY = 19, OFPT_BARRIER_REQUEST = 20, OFPT_BARRIER_REPLY = 21,
       OFPT_ROLE_REQUEST = 24, OFPT_ROLE_REPLY = 25 };
enum { OFPMP_FLOW = 1, OFPMP_PORT_STATS = 4, OFPMP_PORT_DESC = 13 };

/* the PACKET_IN sent (generator.ts's PI_* offsets): 24 header bytes, a 16-byte match holding
 * in_port only, 2 bytes pad, the 64-byte frame */
#define PI_IN_PORT 32
#define PI_DATA 42
#define PI_LEN (PI_DATA + 64)
#define HOST_PORTS 4
#define LEDGER_SIZE (1u << 20)
#define TICK_NS 1000000LL

enum mode { THROUGHPUT, LATENCY, PACED };

struct buf { uint8_t *p; size_t len, cap; };

struct sw {
  int fd;
  int id;
  int ready;     /* FEATURES_REPLY sent */
  int wantOut;   /* EPOLLOUT armed */
  uint32_t nextMac;
  /* ledger slots of the packet-ins in `out` not yet handed to write(): stamped by flush() */
  uint32_t *unstamped;
  size_t nunstamped, capunstamped;
  struct buf in, out;
  uint8_t tmpl[PI_LEN];
};

static enum mode mode = THROUGHPUT;
static int nsw = 16, macs = 1000, window = 32;
static double rate = 1000, seconds = 5, warmupS = 1;
static int running = 0, measuring = 0;
static long long sent = 0, answered = 0;
/* latency and paced modes time only packet-ins sent in the measured window (and wait for their
 * answers a grace period after it); warm-up answers that arrive in the window are not round trips
 * of the window's load. Throughput mode counts every answer in the window, as cbench does. */
static long long outstanding = 0;
static uint32_t ledgerSeq[LEDGER_SIZE];
static int64_t ledgerAt[LEDGER_SIZE];
static uint8_t ledgerMeasured[LEDGER_SIZE];
static uint32_t nextSeq = 1;
static int64_t *rtts; static size_t nrtt, caprtt;
static int64_t *sentAts; static size_t nsentAt, capsentAt; /* for --dump only */
static int64_t *dumpSw; static size_t ndumpSw, capdumpSw;
static const char *dumpPath;
static FILE *dumpFile; /* opened before the run: a path that cannot be written fails at once */
static int64_t *lates; static size_t nlate, caplate;
static int epfd;

static void die(int code, const char *msg) {
  fprintf(stderr, "cbench-gen: %s%s%s\n", msg, errno ? ": " : "", errno ? strerror(errno) : "");
  exit(code);
}

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void push(int64_t **a, size_t *n, size_t *cap, int64_t v) {
  if (*n == *cap) {
    *cap = *cap ? *cap * 2 : 65536;
    *a = realloc(*a, *cap * sizeof **a);
    if (!*a) die(1, "out of memory");
  }
  (*a)[(*n)++] = v;
}

static uint8_t *reserve(struct buf *b, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 16384;
    while (cap < b->len + n) cap *= 2;
    b->p = realloc(b->p, cap);
    if (!b->p) die(1, "out of memory");
    b->cap = cap;
  }
  b->len += n;
  return b->p + b->len - n;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }
static void put64(uint8_t *p, uint64_t v) { put32(p, v >> 32); put32(p + 4, v & 0xffffffffu); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

static uint8_t *header(struct buf *b, uint8_t type, uint16_t len, uint32_t xid) {
  uint8_t *h = reserve(b, len);
  memset(h, 0, len);
  h[0] = 4;
  h[1] = type;
  put16(h + 2, len);
  put32(h + 4, xid);
  return h;
}

static void mac(uint8_t *m, int sw, uint32_t n) {
  m[0] = 0x02; m[1] = (sw >> 8) & 0xff; m[2] = sw & 0xff;
  m[3] = (n >> 16) & 0xff; m[4] = (n >> 8) & 0xff; m[5] = n & 0xff;
}

static void ipChecksum(uint8_t *f) {
  uint32_t sum = 0;
  put16(f + 24, 0);
  for (int i = 14; i < 34; i += 2) sum += get16(f + i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  put16(f + 24, ~sum & 0xffff);
}

/* Ethernet + IPv4 + UDP, 64 bytes, the sequence number in the UDP payload (generator.ts frame()) */
static void frame(uint8_t *f, const uint8_t *src, const uint8_t *dst, uint32_t seq, uint32_t srcIp, uint32_t dstIp) {
  memset(f, 0, 64);
  memcpy(f, dst, 6);
  memcpy(f + 6, src, 6);
  put16(f + 12, 0x0800);
  f[14] = 0x45;
  put16(f + 16, 50);
  f[22] = 64;
  f[23] = 17;
  put32(f + 26, srcIp);
  put32(f + 30, dstIp);
  ipChecksum(f);
  put16(f + 34, 40000);
  put16(f + 36, 40001);
  put16(f + 38, 30);
  put32(f + 42, seq);
}

static void packetIn(uint8_t *p, uint32_t inPort) {
  memset(p, 0, PI_DATA);
  p[0] = 4;
  p[1] = OFPT_PACKET_IN;
  put16(p + 2, PI_LEN);
  put32(p + 8, 0xffffffffu); /* no buffer */
  put16(p + 12, 64);         /* total length */
  put16(p + 24, 1);          /* OFPMT_OXM */
  put16(p + 26, 12);         /* match length without padding */
  put32(p + 28, 0x80000004u); /* OXM in_port, 4 bytes */
  put32(p + PI_IN_PORT, inPort);
}

static void arm(struct sw *s) {
  int want = s->out.len > 0;
  if (want == s->wantOut) return;
  struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = s };
  epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &ev);
  s->wantOut = want;
}

static void closeSw(struct sw *s) {
  if (s->fd < 0) return;
  epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL);
  close(s->fd);
  s->fd = -1;
  s->ready = 0;
  s->out.len = 0;
}

static void flush(struct sw *s) {
  size_t off = 0;
  /* a round trip starts when its packet-in is handed to write(), not when it was queued (a
   * closed loop queues the next packet-in while it still parses the rest of a read) */
  if (s->nunstamped > 0) {
    int64_t at = now_ns();
    for (size_t k = 0; k < s->nunstamped; k++) ledgerAt[s->unstamped[k]] = at;
    s->nunstamped = 0;
  }
  while (s->fd >= 0 && off < s->out.len) {
    ssize_t n = write(s->fd, s->out.p + off, s->out.len - off);
    if (n > 0) off += (size_t)n;
    else if (n < 0 && errno == EINTR) continue;
    else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    else { closeSw(s); return; }
  }
  if (s->fd < 0) return;
  memmove(s->out.p, s->out.p + off, s->out.len - off);
  s->out.len -= off;
  arm(s);
}

/* A PACKET_IN for a new flow: the next source MAC of this switch, a fresh sequence number. */
static void sendNew(struct sw *s) {
  uint32_t n = s->nextMac++ % (uint32_t)macs;
  uint32_t seq = nextSeq;
  nextSeq = nextSeq >= 0xfffffffeu ? 1 : nextSeq + 1;
  uint8_t *b = reserve(&s->out, PI_LEN);
  memcpy(b, s->tmpl, PI_LEN);
  put32(b + PI_IN_PORT, 2 + n % (HOST_PORTS - 1));
  uint8_t *f = b + PI_DATA;
  f[9] = (n >> 16) & 0xff;
  f[10] = (n >> 8) & 0xff;
  f[11] = n & 0xff;
  put32(f + 26, 0x0b000000u | n);
  ipChecksum(f);
  put32(f + 42, seq);
  ledgerSeq[seq & (LEDGER_SIZE - 1)] = seq;
  ledgerAt[seq & (LEDGER_SIZE - 1)] = now_ns(); /* replaced by flush() at the write() */
  if (s->nunstamped == s->capunstamped) {
    s->capunstamped = s->capunstamped ? s->capunstamped * 2 : 64;
    s->unstamped = realloc(s->unstamped, s->capunstamped * sizeof *s->unstamped);
    if (!s->unstamped) die(1, "out of memory");
  }
  s->unstamped[s->nunstamped++] = seq & (LEDGER_SIZE - 1);
  ledgerMeasured[seq & (LEDGER_SIZE - 1)] = (uint8_t)measuring;
  if (measuring) {
    sent++;
    outstanding++;
  }
}

static void multipartReply(struct sw *s, const uint8_t *m) {
  uint16_t kind = get16(m + 8);
  uint32_t xid = get32(m + 4);
  if (kind == OFPMP_PORT_DESC) {
    uint8_t *r = header(&s->out, OFPT_MULTIPART_REPLY, 16 + 64 * HOST_PORTS, xid);
    put16(r + 8, kind);
    for (int i = 0; i < HOST_PORTS; i++) {
      uint8_t *p = r + 16 + 64 * i;
      put32(p, i + 1);
      p[8] = 0x02; p[9] = 0xff; p[12] = s->id & 0xff; p[13] = i + 1;
      snprintf((char *)p + 16, 16, "s%d-p%d", s->id, i + 1);
      put32(p + 56, 10000000); /* curr_speed, kb/s */
    }
  } else if (kind == OFPMP_FLOW) {
    uint8_t *r = header(&s->out, OFPT_MULTIPART_REPLY, 16, xid);
    put16(r + 8, kind);
  } else if (kind == OFPMP_PORT_STATS) {
    uint8_t *r = header(&s->out, OFPT_MULTIPART_REPLY, 16 + 112 * HOST_PORTS, xid);
    put16(r + 8, kind);
    for (int i = 0; i < HOST_PORTS; i++) {
      put32(r + 16 + 112 * i, i + 1);
      put32(r + 16 + 112 * i + 104, 1); /* duration_sec */
    }
  }
}

static void onMessage(struct sw *s, const uint8_t *m, uint16_t len, int64_t arrivedAt) {
  uint8_t type = m[1];
  uint32_t xid = get32(m + 4);
  switch (type) {
  case OFPT_PACKET_OUT: {
    /* actions_len at 16, the frame after the 24-byte header and the actions; our seq at UDP payload */
    size_t data = 24 + (size_t)get16(m + 16);
    if (len < data + 46 || m[data + 12] != 0x08 || m[data + 13] != 0x00 || m[data + 23] != 17) return;
    uint32_t seq = get32(m + data + 42);
    uint32_t i = seq & (LEDGER_SIZE - 1);
    if (seq == 0 || ledgerSeq[i] != seq) return;
    ledgerSeq[i] = 0;
    int sentMeasuring = ledgerMeasured[i];
    ledgerMeasured[i] = 0;
    if (sentMeasuring) outstanding--;
    if (mode == THROUGHPUT) {
      if (measuring) answered++;
    } else if (sentMeasuring) {
      answered++;
      push(&rtts, &nrtt, &caprtt, arrivedAt - ledgerAt[i]);
      if (dumpPath) {
        push(&sentAts, &nsentAt, &capsentAt, ledgerAt[i]);
        push(&dumpSw, &ndumpSw, &capdumpSw, s->id);
      }
    }
    if (running && mode != PACED) sendNew(s);
    return;
  }
  case OFPT_FEATURES_REQUEST: {
    uint8_t *r = header(&s->out, OFPT_FEATURES_REPLY, 32, xid);
    put64(r + 8, (uint64_t)s->id);
    put32(r + 16, 0);     /* n_buffers: every packet-in carries its frame */
    r[20] = 254;          /* n_tables */
    put32(r + 24, 0x47);  /* capabilities */
    s->ready = 1;
    return;
  }
  case OFPT_GET_CONFIG_REQUEST: {
    uint8_t *r = header(&s->out, OFPT_GET_CONFIG_REPLY, 12, xid);
    put16(r + 10, 0xffff);
    return;
  }
  case OFPT_ECHO_REQUEST: {
    uint8_t *r = reserve(&s->out, len);
    memcpy(r, m, len);
    r[1] = OFPT_ECHO_REPLY;
    return;
  }
  case OFPT_BARRIER_REQUEST:
    header(&s->out, OFPT_BARRIER_REPLY, 8, xid);
    return;
  case OFPT_ROLE_REQUEST: {
    if (len < 24) return;
    uint8_t *r = reserve(&s->out, 24);
    memcpy(r, m, 24);
    r[1] = OFPT_ROLE_REPLY;
    return;
  }
  case OFPT_MULTIPART_REQUEST:
    if (len >= 16) multipartReply(s, m);
    return;
  default:
    return; /* HELLO, FLOW_MOD, SET_CONFIG, ... need no answer */
  }
}

static void onReadable(struct sw *s) {
  uint8_t *p = reserve(&s->in, 65536);
  s->in.len -= 65536;
  ssize_t n = read(s->fd, p, 65536);
  /* the arrival time of every answer in this read: taken first, before any parsing */
  int64_t arrivedAt = now_ns();
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) { closeSw(s); return; }
  if (n < 0) return;
  s->in.len += (size_t)n;
  size_t off = 0;
  while (s->in.len - off >= 8) {
    uint16_t len = get16(s->in.p + off + 2);
    if (len < 8) { closeSw(s); return; }
    if (s->in.len - off < len) break;
    onMessage(s, s->in.p + off, len, arrivedAt);
    off += len;
  }
  memmove(s->in.p, s->in.p + off, s->in.len - off);
  s->in.len -= off;
  flush(s);
}

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* generator.ts's percentile(): sorted[min(n-1, floor(p/100*n))], in ms */
static double pct(const int64_t *sorted, size_t n, double p) {
  size_t i = (size_t)(p / 100.0 * (double)n);
  if (i > n - 1) i = n - 1;
  return (double)sorted[i] / 1e6;
}

static double r3(double x) { return (double)(long long)(x * 1000 + (x >= 0 ? 0.5 : -0.5)) / 1000; }

static double cpuSeconds(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

static struct sw *sws;
static int tfd;
static int64_t tickAt; /* when the 1 ms timer is next due */
static int64_t paceStart;
static long long paceDue;
static int paceNext;

static void onTick(int64_t now) {
  uint64_t expirations;
  if (read(tfd, &expirations, sizeof expirations) != sizeof expirations) return;
  /* one lateness sample per expiry handled now: a wake-up that catches up k missed expiries
   * was late for each of them (the earliest by the most), not once */
  for (uint64_t k = 0; k < expirations; k++) {
    if (measuring) push(&lates, &nlate, &caplate, now - tickAt);
    tickAt += TICK_NS;
  }
  if (!(running && mode == PACED)) return;
  long long target = (long long)((double)(now - paceStart) * rate / 1e9);
  int touched = 0;
  for (; paceDue < target; paceDue++) {
    for (int k = 0; k < nsw; k++) { /* the next ready switch, round-robin */
      struct sw *s = &sws[paceNext];
      paceNext = (paceNext + 1) % nsw;
      if (s->ready && s->fd >= 0) { sendNew(s); flush(s); touched = 1; break; }
    }
  }
  (void)touched;
}

/* Runs the event loop until `until` (CLOCK_MONOTONIC ns), or while `cond` holds if given. */
static void loop(int64_t until, int (*cond)(void)) {
  struct epoll_event evs[256];
  for (;;) {
    int64_t now = now_ns();
    if (now >= until || (cond && !cond())) return;
    int n = epoll_wait(epfd, evs, 256, 1 + (int)((until - now) / 1000000));
    if (n < 0 && errno != EINTR) die(1, "epoll_wait");
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == NULL) { onTick(now_ns()); continue; }
      struct sw *s = evs[i].data.ptr;
      if (s->fd < 0) continue;
      if (evs[i].events & (EPOLLERR | EPOLLHUP)) { closeSw(s); continue; }
      if (evs[i].events & EPOLLOUT) flush(s);
      if (s->fd >= 0 && (evs[i].events & EPOLLIN)) onReadable(s);
    }
  }
}

static int answersOutstanding(void) { return outstanding > 0; }

static int notAllReady(void) {
  for (int i = 0; i < nsw; i++) if (!sws[i].ready && sws[i].fd >= 0) return 1;
  return 0;
}

static double num(const char *a, const char *what, double lo) {
  char *end;
  double v = strtod(a, &end);
  /* at most 1e9: callers cast counts and ports to int, which a larger double would make undefined */
  if (*a == '\0' || *end != '\0' || !(v >= lo) || !(v <= 1e9)) {
    fprintf(stderr, "cbench-gen: bad %s: %s\n", what, a);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  const char *pos[5] = { 0 };
  int npos = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc) warmupS = num(argv[++i], "--warmup", 0);
    else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) host = argv[++i];
    else if (strcmp(argv[i], "--macs") == 0 && i + 1 < argc) macs = (int)num(argv[++i], "--macs", 1);
    else if (strcmp(argv[i], "--dump") == 0 && i + 1 < argc) dumpPath = argv[++i];
    else if (npos < 5) pos[npos++] = argv[i];
    else { fprintf(stderr, "cbench-gen: unexpected argument %s\n", argv[i]); return 2; }
  }
  if (npos < 4) {
    fprintf(stderr, "usage: cbench-gen PORT SWITCHES throughput|latency|paced SECONDS [WINDOW|RATE] [--warmup S] [--host H] [--macs N] [--dump FILE]\n");
    return 2;
  }
  int port = (int)num(pos[0], "port", 1);
  nsw = (int)num(pos[1], "switch count", 1);
  if (nsw > 65535 || port > 65535) { fprintf(stderr, "cbench-gen: switches and port must be at most 65535\n"); return 2; }
  if (strcmp(pos[2], "throughput") == 0) mode = THROUGHPUT;
  else if (strcmp(pos[2], "latency") == 0) mode = LATENCY;
  else if (strcmp(pos[2], "paced") == 0) mode = PACED;
  else { fprintf(stderr, "cbench-gen: bad mode: %s\n", pos[2]); return 2; }
  seconds = num(pos[3], "seconds", 0.001);
  if (pos[4]) {
    if (mode == PACED) rate = num(pos[4], "rate", 1);
    else window = (int)num(pos[4], "window", 1);
  }
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) { fprintf(stderr, "cbench-gen: bad host: %s\n", host); return 2; }
  if (dumpPath) {
    errno = 0;
    dumpFile = fopen(dumpPath, "w");
    if (!dumpFile) die(2, "cannot write the --dump file");
  }

  epfd = epoll_create1(0);
  if (epfd < 0) die(1, "epoll_create1");
  sws = calloc((size_t)nsw, sizeof *sws);
  if (!sws) die(1, "out of memory");
  for (int i = 0; i < nsw; i++) {
    struct sw *s = &sws[i];
    s->id = i + 1;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) die(1, "socket");
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(s->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) { closeSw(s); continue; }
    errno = 0;
    uint8_t src[6], dst[6];
    mac(dst, s->id, 0xffffff);
    mac(src, s->id, 0);
    packetIn(s->tmpl, 2);
    frame(s->tmpl + PI_DATA, src, dst, 0, 0x0b000000u, 0x0a000000u | (uint32_t)s->id);
    uint8_t *h = header(&s->out, OFPT_HELLO, 16, 1);
    put16(h + 8, 1);  /* OFPHET_VERSIONBITMAP */
    put16(h + 10, 8);
    put32(h + 12, 1u << 4);
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = s };
    s->wantOut = 1;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, s->fd, &ev) < 0) die(1, "epoll_ctl");
  }
  tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (tfd < 0) die(1, "timerfd_create");
  struct epoll_event tev = { .events = EPOLLIN, .data.ptr = NULL };
  epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &tev);
  tickAt = now_ns() + TICK_NS;
  struct itimerspec its = { .it_value = { tickAt / 1000000000LL, tickAt % 1000000000LL }, .it_interval = { 0, TICK_NS } };
  if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) die(1, "timerfd_settime");

  /* handshakes: until every switch the controller accepted is up, 10 s at most (ovs-testcontroller
   * accepts 16: the kernel completes the others' connections, which then never see a HELLO) */
  loop(now_ns() + 10000000000LL, notAllReady);
  int connected = 0;
  for (int i = 0; i < nsw; i++) {
    struct sw *s = &sws[i];
    if (!s->ready || s->fd < 0) continue;
    connected++;
    /* the destination host says hello once, so learning controllers know where it is */
    uint8_t dst[6], bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    mac(dst, s->id, 0xffffff);
    uint8_t *p = reserve(&s->out, PI_LEN);
    packetIn(p, 1);
    frame(p + PI_DATA, dst, bcast, 0, 0x0a000000u | (uint32_t)s->id, 0x0a0000ffu);
    flush(s);
  }
  if (connected == 0) {
    errno = 0;
    die(1, "no switch connected: is a controller listening there?");
  }
  loop(now_ns() + 500000000LL, NULL);
  running = 1;
  paceStart = now_ns();
  if (mode != PACED) {
    int per = mode == LATENCY ? 1 : window;
    for (int i = 0; i < nsw; i++) {
      struct sw *s = &sws[i];
      if (!s->ready || s->fd < 0) continue;
      for (int k = 0; k < per; k++) sendNew(s);
      flush(s);
    }
  }
  loop(now_ns() + (int64_t)(warmupS * 1e9), NULL);
  fprintf(stderr, "cbench-phase start\n");
  fflush(stderr);
  measuring = 1;
  int64_t t0 = now_ns();
  double cpu0 = cpuSeconds();
  loop(t0 + (int64_t)(seconds * 1e9), NULL);
  measuring = 0;
  running = 0;
  int64_t elapsed = now_ns() - t0;
  double cpu = cpuSeconds() - cpu0;
  fprintf(stderr, "cbench-phase end\n");
  fflush(stderr);
  /* the window's last packet-ins are still timed: their answers get up to 2 s more */
  if (mode != THROUGHPUT) loop(now_ns() + 2000000000LL, answersOutstanding);
  /* the switches stay connected 200 ms more: the bench reads the controller's event-loop probe on
   * "cbench-phase end", and closing 256 connections at once holds a controller's loop ~0.1 s,
   * which the probe counted as the run's longest stall before (docs/cluster.md, run 8) */
  loop(now_ns() + 200000000LL, NULL);
  for (int i = 0; i < nsw; i++) closeSw(&sws[i]);

  double ms = (double)elapsed / 1e6;
  printf("{\"mode\":\"%s\",\"switches\":%d,\"connected\":%d,\"sent\":%lld,\"answered\":%lld,\"responsesPerSecond\":%lld,",
         mode == THROUGHPUT ? "throughput" : mode == LATENCY ? "latency" : "paced", nsw, connected, sent, answered,
         (long long)((double)answered / ms * 1000 + 0.5));
  if (dumpFile) {
    /* every measured round trip, in the order answered: ms since the measured run began, ms, switch */
    FILE *d = dumpFile;
    for (size_t i = 0; i < nrtt; i++) fprintf(d, "%.3f %.3f %lld\n", (double)(sentAts[i] - t0) / 1e6, (double)rtts[i] / 1e6, (long long)dumpSw[i]);
    fclose(d);
  }
  if (mode != THROUGHPUT && nrtt > 0) {
    qsort(rtts, nrtt, sizeof *rtts, cmp64);
    double sum = 0;
    for (size_t i = 0; i < nrtt; i++) sum += (double)rtts[i];
    printf("\"latencyMs\":{\"p50\":%.3f,\"p99\":%.3f,\"mean\":%.3f,\"max\":%.3f,\"min\":%.3f},", r3(pct(rtts, nrtt, 50)), r3(pct(rtts, nrtt, 99)),
           r3(sum / (double)nrtt / 1e6), r3((double)rtts[nrtt - 1] / 1e6), r3((double)rtts[0] / 1e6));
  } else {
    printf("\"latencyMs\":null,");
  }
  printf("\"durationMs\":%lld,", (long long)(ms + 0.5));
  if (mode != THROUGHPUT) printf("\"unanswered\":%lld,", outstanding);
  if (mode == PACED) printf("\"offeredRate\":%g,", rate);
  else printf("\"offeredRate\":null,");
  printf("\"generatorCpu\":%.2f,", cpu / (ms / 1000));
  if (nlate > 0) {
    qsort(lates, nlate, sizeof *lates, cmp64);
    printf("\"generatorLoopDelayMs\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},", r3(pct(lates, nlate, 50)), r3(pct(lates, nlate, 99)), r3((double)lates[nlate - 1] / 1e6));
  } else {
    printf("\"generatorLoopDelayMs\":{\"p50\":0,\"p99\":0,\"max\":0},");
  }
  printf("\"generator\":\"c\"}\n");
  return 0;
}
