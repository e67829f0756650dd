// SPDX-License-Identifier: GPL-2.0
/*
 * irq_remap_bench - not a test: interrupt round trip through irq_remap.
 *
 * A waiter thread blocks in read() on an eventfd and answers each wake-up
 * on an "ack" eventfd.  The main thread times trigger -> ack for:
 *
 *   anchor   a plain write() to the eventfd (what any signal costs),
 *   raise    IRQ_REMAP_RAISE into a table entry that targets the eventfd,
 *   hardirq  the same, delivered from hard-irq context (irq_work),
 *
 * and prints the medians and their ratios to the anchor.  It also prints
 * the cost of one call without any wake-up (a write() to an eventfd nobody
 * waits on, against a RAISE into a masked entry), which separates the
 * remapping work from the scheduler's.  Absolute times under TCG mean
 * little; compare the ratios of one run.
 *
 *	irq_remap_bench [iterations]	(default 2000)
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/irq_remap.h>

static int efd, ack;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void *waiter(void *arg)
{
	uint64_t v, one = 1;

	(void)arg;
	for (;;) {
		if (read(efd, &v, sizeof(v)) != sizeof(v))
			return NULL;
		if (write(ack, &one, sizeof(one)) != sizeof(one))
			return NULL;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

enum mode { ANCHOR, RAISE, HARDIRQ };

#define ROUNDS	10

/* Times @n round trips of mode @m into @t. */
static void measure(enum mode m, int fd, struct irq_remap_raise *r, double *t,
		    int n)
{
	uint64_t one = 1, v;
	int i;

	for (i = 0; i < n; i++) {
		double t0 = now_us();

		if (m == ANCHOR) {
			if (write(efd, &one, sizeof(one)) != sizeof(one))
				exit(1);
		} else {
			r->flags = m == HARDIRQ ? IRQ_REMAP_RAISE_HARDIRQ : 0;
			if (ioctl(fd, IRQ_REMAP_RAISE, r) || r->delivered != 1) {
				perror("IRQ_REMAP_RAISE");
				exit(1);
			}
		}
		if (read(ack, &v, sizeof(v)) != sizeof(v))
			exit(1);
		t[i] = now_us() - t0;
	}
}

static double median(double *t, int n)
{
	qsort(t, n, sizeof(*t), cmp_double);
	return t[n / 2];
}

/* Mean cost of one call that wakes nobody. */
static double call_cost(int fd, struct irq_remap_raise *r, int spare, int n)
{
	uint64_t one = 1;
	double t0;
	int i;

	t0 = now_us();
	for (i = 0; i < n; i++) {
		if (r) {
			r->flags = 0;
			if (ioctl(fd, IRQ_REMAP_RAISE, r))
				exit(1);
		} else if (write(spare, &one, sizeof(one)) != sizeof(one)) {
			exit(1);
		}
	}
	return (now_us() - t0) / n;
}

int main(int argc, char **argv)
{
	struct irq_remap_table_create c = { .argsz = sizeof(c), .nr_entries = 1 };
	struct irq_remap_entry_alloc a = { .argsz = sizeof(a) };
	struct irq_remap_entry_set s = { .argsz = sizeof(s) };
	struct irq_remap_raise r = { .argsz = sizeof(r), .count = 1 };
	int n = argc > 1 ? atoi(argv[1]) : 2000, fd;
	struct irq_remap_entry_op mask = { .argsz = sizeof(mask) };
	double anchor, raise, hard, w_cost, r_cost, *t[3];
	int i, m, per;
	int spare = eventfd(0, 0);
	pthread_t th;

	if (n < 1)
		n = 1;
	fd = open("/dev/irq_remap", O_RDWR);
	efd = eventfd(0, 0);
	ack = eventfd(0, 0);
	if (fd < 0 || efd < 0 || ack < 0) {
		perror("open");
		return 1;
	}
	c.requester_id = 0x0100;
	if (ioctl(fd, IRQ_REMAP_TABLE_CREATE, &c))
		return perror("TABLE_CREATE"), 1;
	a.table_id = c.table_id;
	if (ioctl(fd, IRQ_REMAP_ENTRY_ALLOC, &a))
		return perror("ENTRY_ALLOC"), 1;
	s.flags = IRQ_REMAP_ENTRY_PRESENT;
	s.table_id = c.table_id;
	s.handle = a.handle;
	s.eventfd = efd;
	s.resample_fd = -1;
	s.svt = IRQ_REMAP_SVT_RID;
	s.sid = 0x0100;
	if (ioctl(fd, IRQ_REMAP_ENTRY_SET, &s))
		return perror("ENTRY_SET"), 1;
	r.table_id = c.table_id;
	r.handle = a.handle;
	r.source = 0x0100;

	if (pthread_create(&th, NULL, waiter, NULL))
		return 1;
	/*
	 * Warm up, then interleave the three paths in ten rounds so that
	 * noise from the (shared, emulated) machine hits them alike.
	 */
	per = n / ROUNDS > 0 ? n / ROUNDS : 1;
	n = per * ROUNDS;
	for (m = 0; m < 3; m++) {
		t[m] = calloc(n, sizeof(double));
		if (!t[m])
			return 1;
		measure(m, fd, &r, t[m], per);
	}
	for (i = 0; i < ROUNDS; i++)
		for (m = 0; m < 3; m++)
			measure(m, fd, &r, t[m] + i * per, per);
	anchor = median(t[ANCHOR], n);
	raise = median(t[RAISE], n);
	hard = median(t[HARDIRQ], n);

	mask.table_id = c.table_id;
	mask.handle = a.handle;
	if (ioctl(fd, IRQ_REMAP_ENTRY_MASK, &mask))
		return perror("ENTRY_MASK"), 1;
	w_cost = call_cost(fd, NULL, spare, n);
	r_cost = call_cost(fd, &r, spare, n);

	printf("irq_remap_bench: %d round trips each, medians:\n", n);
	printf("  anchor  eventfd write  %8.2f us\n", anchor);
	printf("  raise   irq_remap      %8.2f us  ratio %.2f\n", raise,
	       raise / anchor);
	printf("  hardirq irq_remap      %8.2f us  ratio %.2f\n", hard,
	       hard / anchor);
	printf("  one call, no wake-up: eventfd write %.2f us, RAISE (masked) %.2f us, ratio %.2f\n",
	       w_cost, r_cost, r_cost / w_cost);
	return 0;
}
