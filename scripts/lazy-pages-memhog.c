/* lazy-pages-memhog MIB LOG: holds MIB MiB of memory, each page filled with a pattern derived from
 * its index, and every MEMHOG_MS ms (env, default 500) appends "T <iter> <unix ms> <pid>" to LOG, verifies
 * every page, then appends "C <iter> <unix ms> ok|BAD <bad pages> <pid>". The T line comes before the check,
 * so that after a lazy restore it shows when the task ran again, the C line when it had every page.
 * <pid> is the pid in the PID namespace of the mounted /proc (readlink /proc/self): it tells the
 * source task (resumed after a failed dump) from the restored one.
 * `lazy-pages-memhog setpipe BYTES` only tries fcntl(F_SETPIPE_SZ, BYTES) on a new pipe, as CRIU's
 * lazy page server does (pipe_read_dest_init, 819 pages = 3354624 bytes), and prints the outcome. Used by scripts/lazy-pages-probe.sh to check
 * that a CRIU (lazy) restore brought every page back. Build: gcc -O2 -static -o memhog memhog.c */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *self(void)
{
	static char b[32];
	ssize_t n = readlink("/proc/self", b, sizeof(b) - 1);
	b[n > 0 ? n : 0] = 0;
	return b;
}

static uint64_t pat(uint64_t page, uint64_t word) { return (page * 0x9E3779B97F4A7C15ull) ^ (word * 0xD1B54A32D192ED03ull) ^ 0x5A5A; }

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "setpipe")) {
		int p[2];
		if (pipe(p)) { perror("pipe"); return 1; }
		int r = fcntl(p[0], F_SETPIPE_SZ, atoi(argv[2]));
		printf("F_SETPIPE_SZ %s: %s\n", argv[2], r < 0 ? strerror(errno) : "ok");
		return r < 0;
	}
	if (argc < 3) { fprintf(stderr, "usage: %s MIB LOG\n", argv[0]); return 2; }
	size_t mib = strtoul(argv[1], NULL, 10), len = mib << 20, pages = len / 4096;
	long ms = getenv("MEMHOG_MS") ? atol(getenv("MEMHOG_MS")) : 500;
	FILE *log = fopen(argv[2], "a");
	if (!log) { perror("fopen"); return 1; }
	setvbuf(log, NULL, _IOLBF, 0);
	uint64_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) { perror("mmap"); return 1; }
	for (size_t p = 0; p < pages; p++)
		for (size_t w = 0; w < 512; w++) m[p * 512 + w] = pat(p, w);
	for (unsigned long iter = 0;; iter++) {
		size_t bad = 0;
		struct timeval tv;
		gettimeofday(&tv, NULL);
		fprintf(log, "T %lu %llu %s\n", iter, (unsigned long long)tv.tv_sec * 1000 + tv.tv_usec / 1000, self());
		for (size_t p = 0; p < pages; p++)
			for (size_t w = 0; w < 512; w += 37)
				if (m[p * 512 + w] != pat(p, w)) { bad++; break; }
		gettimeofday(&tv, NULL);
		fprintf(log, "C %lu %llu %s %zu %s\n", iter, (unsigned long long)tv.tv_sec * 1000 + tv.tv_usec / 1000, bad ? "BAD" : "ok", bad, self());
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
		nanosleep(&ts, NULL);
	}
}
