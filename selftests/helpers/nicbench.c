// SPDX-License-Identifier: GPL-2.0
/*
 * nicbench - bulk TCP and UDP round trips between a second-level guest and
 * its peer in the test VM, for assign_e1000_guest_test.sh and make
 * bench-nic.  Static, so it runs in the second-level guest's initramfs.
 *
 *	nicbench listen PORT send|recv FILE [TIMEOUT]
 *	nicbench connect HOST PORT send|recv FILE [TIMEOUT]
 *	nicbench udp-echo PORT COUNT [TIMEOUT]
 *	nicbench udp-ping HOST PORT COUNT INTERVAL_MS [TIMEOUT]
 *	nicbench sniff IFACE TIMEOUT MAC...
 *	nicbench stream HOST PORT [TIMEOUT]
 *	nicbench sink PORT N WARMUP SECONDS TIMEOUT [FILE...]
 *
 * listen/connect: one TCP connection; "send" writes FILE and then half
 * closes, and returns once the other side has closed too (so everything
 * sent has been taken); "recv" writes what it reads into FILE until EOF.
 * Prints "NICBENCH tcp <send|recv> bytes=<n> us=<t> bytes_per_s=<r>", the
 * time from the connection to the end.  udp-echo answers COUNT datagrams;
 * udp-ping sends COUNT 64-byte datagrams, one every INTERVAL_MS, waits up
 * to 1 s for each answer, and prints "NICBENCH udp rtt count=<n> lost=<n>
 * median_us=<t> p99_us=<t> min_us=<t>".  Every mode gives up after
 * TIMEOUT seconds (default 120) and then exits 1.
 *
 * sniff watches IFACE (promiscuous, through an AF_PACKET socket) until
 * SIGTERM, SIGINT or TIMEOUT seconds, then prints "NICBENCH sniff
 * frames=<n> from_macs=<n> unicast_between=<n>": the frames the interface
 * received, those whose source is one of the MACs, and the unicast frames
 * from one of the MACs to another (for assign_e1000_share_guest_test.sh:
 * guest-to-guest frames that reached the wire).  Exits 0 once it printed.
 *
 * stream and sink measure several guests sending at once (make bench-nic's
 * sharing section).  stream connects (retrying until TIMEOUT), waits for
 * the sink's one-byte "go", then sends pseudo-random data until the sink
 * closes the connection, and prints "NICBENCH tcp stream bytes=<n>
 * us=<t> bytes_per_s=<r>".  sink accepts up to N connections on PORT
 * (giving up on the missing ones after TIMEOUT, or at once on SIGUSR1:
 * the caller knows no more will come), tells them all to go at
 * once, reads for WARMUP seconds, then counts what each connection
 * delivers in the next SECONDS (one window common to all), reads each
 * FILE (a number, e.g. a sysfs counter) at the window's start and end,
 * and closes every connection.  It prints "NICBENCH sink connected=<k>
 * of=<N>", per connection "NICBENCH sink conn=<i> from=<addr>
 * bytes=<n> bytes_per_s=<r>", "NICBENCH sink total window_us=<t>
 * bytes=<n> bytes_per_s=<r>" and per FILE "NICBENCH sink file=<path>
 * before=<v> after=<v>".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <net/if.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "../lib/kt_bench.h"

#define BUFSZ	(64 * 1024)
#define MAXPING	10000

static char buf[BUFSZ];

static int port_of(const char *s)
{
	int p = atoi(s);

	return (p > 0 && p < 65536) ? p : -1;
}

static int tcp_listen_accept(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int s, c, one = 1;

	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return -1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 1)) {
		close(s);
		return -1;
	}
	c = accept(s, NULL, NULL);
	close(s);
	return c;
}

static int tcp_connect(const char *host, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int s, tries;

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return -1;
	/* The peer's listener may come up a little after us: retry. */
	for (tries = 0; tries < 50; tries++) {
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0)
			return -1;
		if (!connect(s, (struct sockaddr *)&a, sizeof(a)))
			return s;
		close(s);
		usleep(200000);
	}
	return -1;
}

static int do_send(int s, int fd, uint64_t *bytes)
{
	ssize_t n, w, off;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (off = 0; off < n; off += w) {
			w = write(s, buf + off, n - off);
			if (w <= 0)
				return -1;
		}
		*bytes += n;
	}
	if (n < 0 || shutdown(s, SHUT_WR))
		return -1;
	/* Wait for the other side's close: then it has read everything. */
	while ((n = read(s, buf, sizeof(buf))) > 0)
		;
	return n < 0 ? -1 : 0;
}

static int do_recv(int s, int fd, uint64_t *bytes)
{
	ssize_t n, w, off;

	while ((n = read(s, buf, sizeof(buf))) > 0) {
		for (off = 0; off < n; off += w) {
			w = write(fd, buf + off, n - off);
			if (w <= 0)
				return -1;
		}
		*bytes += n;
	}
	return n < 0 ? -1 : 0;
}

static int tcp(int s, const char *dir, const char *file)
{
	int sending = !strcmp(dir, "send"), fd, err;
	uint64_t bytes = 0;
	double t0, t;

	if (s < 0) {
		perror("nicbench: connection");
		return 1;
	}
	fd = sending ? open(file, O_RDONLY) : open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(file);
		return 1;
	}
	t0 = kt_now();
	err = sending ? do_send(s, fd, &bytes) : do_recv(s, fd, &bytes);
	t = kt_now() - t0;
	close(fd);
	close(s);
	if (err) {
		perror("nicbench: transfer");
		return 1;
	}
	printf("NICBENCH tcp %s bytes=%llu us=%.0f bytes_per_s=%.0f\n", dir,
	       (unsigned long long)bytes, t * 1e6, t > 0 ? bytes / t : 0);
	return 0;
}

static int udp_echo(int port, int count)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in from;
	socklen_t fl;
	ssize_t n;
	int s, i;

	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a))) {
		perror("nicbench: udp bind");
		return 1;
	}
	for (i = 0; i < count; i++) {
		fl = sizeof(from);
		n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0) {
			perror("nicbench: udp recv");
			return 1;
		}
		sendto(s, buf, n, 0, (struct sockaddr *)&from, fl);
	}
	close(s);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int udp_ping(const char *host, int port, int count, int interval_ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 1 };
	static double rtt[MAXPING];
	uint32_t seq, got;
	int s, i, n = 0, lost = 0;
	double t0, deadline;
	ssize_t r;

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1 || count > MAXPING)
		return 1;
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) ||
	    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		perror("nicbench: udp socket");
		return 1;
	}
	for (i = 0; i < count; i++) {
		seq = i;
		memset(buf, 0, 64);
		memcpy(buf, &seq, sizeof(seq));
		t0 = kt_now();
		if (send(s, buf, 64, 0) != 64) {
			lost++;
			continue;
		}
		deadline = t0 + 1.0;
		for (;;) {
			r = recv(s, buf, sizeof(buf), 0);
			if (r < 0) {
				lost++;
				break;
			}
			memcpy(&got, buf, sizeof(got));
			if (r == 64 && got == seq) {
				rtt[n++] = (kt_now() - t0) * 1e6;
				break;
			}
			if (kt_now() > deadline) {	/* only stale answers */
				lost++;
				break;
			}
		}
		if (interval_ms)
			usleep(interval_ms * 1000);
	}
	close(s);
	if (!n) {
		printf("NICBENCH udp rtt count=0 lost=%d\n", lost);
		return 1;
	}
	qsort(rtt, n, sizeof(rtt[0]), cmp_double);
	printf("NICBENCH udp rtt count=%d lost=%d median_us=%.0f p99_us=%.0f min_us=%.0f\n",
	       n, lost, rtt[(n - 1) / 2], rtt[(n * 99 + 99) / 100 - 1], rtt[0]);
	return 0;
}

#define MAXMAC	16

static volatile sig_atomic_t sniff_stop;

static void sniff_signal(int sig)
{
	(void)sig;
	sniff_stop = 1;
}

static int mac_parse(const char *s, unsigned char *m)
{
	unsigned int b[6], i;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5]) != 6)
		return -1;
	for (i = 0; i < 6; i++)
		m[i] = b[i];
	return 0;
}

static int mac_in(const unsigned char *m, unsigned char (*set)[6], int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (!memcmp(m, set[i], 6))
			return 1;
	}
	return 0;
}

static int sniff(const char *ifname, int timeout, int nmac, char **macs)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct packet_mreq mr = { .mr_type = PACKET_MR_PROMISC };
	struct timeval tv = { .tv_sec = 1 };
	unsigned long long frames = 0, from = 0, between = 0;
	static unsigned char set[MAXMAC][6];
	struct sockaddr_ll from_ll;
	struct sigaction sa = { .sa_handler = sniff_signal };
	socklen_t fl;
	double end;
	ssize_t r;
	int s, i;

	if (nmac > MAXMAC)
		return 2;
	for (i = 0; i < nmac; i++) {
		if (mac_parse(macs[i], set[i])) {
			fprintf(stderr, "nicbench: bad MAC %s\n", macs[i]);
			return 2;
		}
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	sll.sll_ifindex = if_nametoindex(ifname);
	mr.mr_ifindex = sll.sll_ifindex;
	if (s < 0 || !sll.sll_ifindex || bind(s, (struct sockaddr *)&sll, sizeof(sll)) ||
	    setsockopt(s, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) ||
	    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		perror("nicbench: sniff socket");
		return 1;
	}
	printf("NICBENCH sniff started on %s\n", ifname);
	end = kt_now() + timeout;
	while (!sniff_stop && kt_now() < end) {
		fl = sizeof(from_ll);
		r = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from_ll, &fl);
		if (r < 14 || from_ll.sll_pkttype == PACKET_OUTGOING)
			continue;
		frames++;
		if (!mac_in((unsigned char *)buf + 6, set, nmac))
			continue;
		from++;
		if (!(buf[0] & 1) && mac_in((unsigned char *)buf, set, nmac) &&
		    memcmp(buf, buf + 6, 6))
			between++;
	}
	close(s);
	printf("NICBENCH sniff frames=%llu from_macs=%llu unicast_between=%llu\n",
	       frames, from, between);
	return 0;
}

/* stream: send until the sink closes; that end is the normal one. */
static int stream(const char *host, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	uint64_t bytes = 0;
	double t0, t;
	size_t i;
	ssize_t w;
	char go;
	int s;

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < BUFSZ / 8; i++) {
		uint64_t r = kt_rnd();

		memcpy(buf + 8 * i, &r, 8);
	}
	/* The sink may come up long after us: retry until the alarm. */
	for (;;) {
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0) {
			perror("nicbench: socket");
			return 1;
		}
		if (!connect(s, (struct sockaddr *)&a, sizeof(a)))
			break;
		close(s);
		usleep(200000);
	}
	if (read(s, &go, 1) != 1) {
		perror("nicbench: stream go");
		return 1;
	}
	t0 = kt_now();
	for (;;) {
		w = write(s, buf, sizeof(buf));
		if (w <= 0)
			break;
		bytes += w;
	}
	t = kt_now() - t0;
	close(s);
	printf("NICBENCH tcp stream bytes=%llu us=%.0f bytes_per_s=%.0f\n",
	       (unsigned long long)bytes, t * 1e6, t > 0 ? bytes / t : 0);
	return (w < 0 && (errno == EPIPE || errno == ECONNRESET)) ? 0 : 1;
}

#define MAXCONN	64

static long long read_num(const char *path)
{
	char b[64] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	return n > 0 ? strtoll(b, NULL, 0) : -1;
}

/* sink: read from every connection until @until; count into @bytes. */
static void sink_read(struct pollfd *p, int k, uint64_t *bytes, double until)
{
	double now;
	ssize_t n;
	int i;

	while ((now = kt_now()) < until) {
		if (poll(p, k, (int)((until - now) * 1000) + 1) <= 0)
			continue;
		for (i = 0; i < k; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n > 0)
				bytes[i] += n;
			else
				p[i].fd = -p[i].fd - 1;	/* ended early: ignore it */
		}
	}
}

static volatile sig_atomic_t sink_no_more;

static void sink_usr1(int sig)
{
	(void)sig;
	sink_no_more = 1;
}

static int sink(int port, int want, double warmup, double secs, int timeout,
		char **files, int nfiles)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in from[MAXCONN];
	uint64_t bytes[MAXCONN] = { 0 }, b0[MAXCONN], total = 0;
	long long before[MAXCONN], after[MAXCONN];
	struct pollfd p[MAXCONN];
	double deadline, t0, t1;
	socklen_t fl;
	int s, k = 0, i, one = 1;
	char addr[INET_ADDRSTRLEN];

	if (want < 1 || want > MAXCONN || nfiles > MAXCONN)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR1, sink_usr1);
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, MAXCONN)) {
		perror("nicbench: sink listen");
		return 1;
	}
	deadline = kt_now() + timeout;
	while (k < want && kt_now() < deadline && !sink_no_more) {
		struct pollfd lp = { .fd = s, .events = POLLIN };

		if (poll(&lp, 1, (int)((deadline - kt_now()) * 1000) + 1) <= 0)
			continue;
		fl = sizeof(from[k]);
		p[k].fd = accept(s, (struct sockaddr *)&from[k], &fl);
		if (p[k].fd < 0)
			continue;
		p[k].events = POLLIN;
		k++;
	}
	close(s);
	printf("NICBENCH sink connected=%d of=%d\n", k, want);
	if (!k)
		return 1;
	for (i = 0; i < k; i++)
		if (write(p[i].fd, "g", 1) != 1)
			perror("nicbench: sink go");
	sink_read(p, k, bytes, kt_now() + warmup);
	memcpy(b0, bytes, sizeof(b0));
	for (i = 0; i < nfiles; i++)
		before[i] = read_num(files[i]);
	t0 = kt_now();
	sink_read(p, k, bytes, t0 + secs);
	t1 = kt_now();
	for (i = 0; i < nfiles; i++)
		after[i] = read_num(files[i]);
	for (i = 0; i < k; i++) {
		uint64_t d = bytes[i] - b0[i];

		close(p[i].fd < 0 ? -p[i].fd - 1 : p[i].fd);
		inet_ntop(AF_INET, &from[i].sin_addr, addr, sizeof(addr));
		printf("NICBENCH sink conn=%d from=%s bytes=%llu bytes_per_s=%.0f%s\n", i, addr,
		       (unsigned long long)d, d / (t1 - t0), p[i].fd < 0 ? " ended=early" : "");
		total += d;
	}
	printf("NICBENCH sink total window_us=%.0f bytes=%llu bytes_per_s=%.0f\n",
	       (t1 - t0) * 1e6, (unsigned long long)total, total / (t1 - t0));
	for (i = 0; i < nfiles; i++)
		printf("NICBENCH sink file=%s before=%lld after=%lld\n", files[i], before[i], after[i]);
	return 0;
}

int main(int argc, char **argv)
{
	int to = 120, port;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 5 && !strcmp(argv[1], "listen")) {
		if (argc > 5)
			to = atoi(argv[5]);
		alarm(to);
		port = port_of(argv[2]);
		if (port < 0)
			goto usage;
		return tcp(tcp_listen_accept(port), argv[3], argv[4]);
	}
	if (argc >= 6 && !strcmp(argv[1], "connect")) {
		if (argc > 6)
			to = atoi(argv[6]);
		alarm(to);
		port = port_of(argv[3]);
		if (port < 0)
			goto usage;
		return tcp(tcp_connect(argv[2], port), argv[4], argv[5]);
	}
	if (argc >= 4 && !strcmp(argv[1], "udp-echo")) {
		if (argc > 4)
			to = atoi(argv[4]);
		alarm(to);
		port = port_of(argv[2]);
		if (port < 0)
			goto usage;
		return udp_echo(port, atoi(argv[3]));
	}
	if (argc >= 6 && !strcmp(argv[1], "udp-ping")) {
		if (argc > 6)
			to = atoi(argv[6]);
		alarm(to);
		port = port_of(argv[3]);
		if (port < 0)
			goto usage;
		return udp_ping(argv[2], port, atoi(argv[4]), atoi(argv[5]));
	}
	if (argc >= 5 && !strcmp(argv[1], "sniff"))
		return sniff(argv[2], atoi(argv[3]), argc - 4, argv + 4);
	if (argc >= 4 && !strcmp(argv[1], "stream")) {
		if (argc > 4)
			to = atoi(argv[4]);
		alarm(to);
		port = port_of(argv[3]);
		if (port < 0)
			goto usage;
		return stream(argv[2], port);
	}
	if (argc >= 7 && !strcmp(argv[1], "sink")) {
		to = atoi(argv[6]);
		port = port_of(argv[2]);
		if (port < 0 || to <= 0)
			goto usage;
		alarm(to + atoi(argv[4]) + atoi(argv[5]) + 30);
		return sink(port, atoi(argv[3]), atof(argv[4]), atof(argv[5]), to,
			    argv + 7, argc - 7);
	}
usage:
	fprintf(stderr, "usage: nicbench listen PORT send|recv FILE [TIMEOUT]\n"
		"       nicbench connect HOST PORT send|recv FILE [TIMEOUT]\n"
		"       nicbench udp-echo PORT COUNT [TIMEOUT]\n"
		"       nicbench udp-ping HOST PORT COUNT INTERVAL_MS [TIMEOUT]\n"
		"       nicbench sniff IFACE TIMEOUT MAC...\n"
		"       nicbench stream HOST PORT [TIMEOUT]\n"
		"       nicbench sink PORT N WARMUP SECONDS TIMEOUT [FILE...]\n");
	return 2;
}
