// SPDX-License-Identifier: GPL-2.0
/*
 * memhp_io - block I/O whose buffers lie in hot-plugged guest memory
 * (run inside the second-level guest by vhost_blk_hotplug_test.sh).
 *
 *   memhp_io DEV START END MB BLOCKS
 *
 * Touches MB MiB of anonymous memory, finds through /proc/self/pagemap
 * (the guest-physical frame of each page; root only) 2 * BLOCKS pages
 * whose guest-physical address lies in [START, END) (the hot-plugged
 * DIMM), writes BLOCKS 4 KiB blocks of a known pattern to DEV with
 * O_DIRECT from the first BLOCKS of them, reads them back with O_DIRECT
 * into the other BLOCKS and compares.  The virtio-blk driver hands the
 * device those pages' guest-physical addresses, so the device (vhost_blk
 * through the bridge's memory table) must translate addresses of the new
 * region.  Block i holds bytes (i * 131 + j * 7 + 1) & 0xff, j = 0..4095,
 * so the host can check the backend.  The frames are checked again after
 * the I/O (a page that migrated meanwhile would prove nothing).
 *
 * Prints one "memhp_io: ..." line; exit 0 when every block came back
 * intact from and into the new memory, 1 otherwise, 4 when too few pages
 * lie in the range.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#define BS	4096

static int pagemap = -1;

/* Guest-physical address of the page at @p, 0 if not present. */
static uint64_t gpa_of(const void *p)
{
	uint64_t e;
	off_t off = (off_t)((uintptr_t)p / BS) * 8;

	if (pread(pagemap, &e, 8, off) != 8 || !(e & (1ULL << 63)))
		return 0;
	return (e & ((1ULL << 55) - 1)) * BS;
}

static uint8_t pat(unsigned int i, unsigned int j)
{
	return (uint8_t)(i * 131 + j * 7 + 1);
}

int main(int argc, char **argv)
{
	unsigned long long start, end;
	unsigned int mb, nblk, i, j, found = 0, bad = 0, moved = 0;
	uint8_t **pg, *area;
	size_t len, k;
	int fd;

	if (argc != 6) {
		fprintf(stderr, "usage: memhp_io DEV START END MB BLOCKS\n");
		return 2;
	}
	start = strtoull(argv[2], NULL, 0);
	end = strtoull(argv[3], NULL, 0);
	mb = strtoul(argv[4], NULL, 0);
	nblk = strtoul(argv[5], NULL, 0);
	if (!mb || !nblk || start >= end) {
		fprintf(stderr, "memhp_io: bad arguments\n");
		return 2;
	}
	pagemap = open("/proc/self/pagemap", O_RDONLY);
	fd = open(argv[1], O_RDWR | O_DIRECT);
	if (pagemap < 0 || fd < 0) {
		fprintf(stderr, "memhp_io: open: %s\n", strerror(errno));
		return 1;
	}
	len = (size_t)mb << 20;
	area = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pg = calloc(2 * nblk, sizeof(*pg));
	if (area == MAP_FAILED || !pg) {
		fprintf(stderr, "memhp_io: out of memory\n");
		return 1;
	}
	for (k = 0; k < len; k += BS)
		area[k] = 1;	/* fault every page in */
	for (k = 0; k < len && found < 2 * nblk; k += BS) {
		uint64_t a = gpa_of(area + k);

		if (a >= start && a < end)
			pg[found++] = area + k;
	}
	if (found < 2 * nblk) {
		printf("memhp_io: only %u of %u pages of %u MiB lie in [%#llx, %#llx)\n",
		       found, 2 * nblk, mb, start, end);
		return 4;
	}
	for (i = 0; i < nblk; i++) {
		for (j = 0; j < BS; j++)
			pg[i][j] = pat(i, j);
		memset(pg[nblk + i], 0, BS);
	}
	for (i = 0; i < nblk; i++)
		if (pwrite(fd, pg[i], BS, (off_t)i * BS) != BS) {
			fprintf(stderr, "memhp_io: write %u: %s\n", i, strerror(errno));
			return 1;
		}
	if (fsync(fd)) {
		fprintf(stderr, "memhp_io: fsync: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < nblk; i++)
		if (pread(fd, pg[nblk + i], BS, (off_t)i * BS) != BS) {
			fprintf(stderr, "memhp_io: read %u: %s\n", i, strerror(errno));
			return 1;
		}
	for (i = 0; i < nblk; i++)
		for (j = 0; j < BS; j++)
			if (pg[nblk + i][j] != pat(i, j)) {
				bad++;
				break;
			}
	for (i = 0; i < 2 * nblk; i++) {
		uint64_t a = gpa_of(pg[i]);

		if (a < start || a >= end)
			moved++;
	}
	printf("memhp_io: %u blocks written from and read back into pages at guest-physical [%#llx, %#llx) (first %#llx): %u differ, %u pages moved out meanwhile: %s\n",
	       nblk, start, end, (unsigned long long)gpa_of(pg[0]), bad, moved,
	       bad || moved ? "FAIL" : "OK");
	return bad || moved ? 1 : 0;
}
