/* N getppid() system calls, the cheapest there is; prints the CPU time
 * (user + system, getrusage) per call in ns. With "ia32" the calls are
 * 32-bit compat syscalls (int 0x80, ia32 number 64), as a -m32 binary
 * makes them, from this 64-bit binary (no multilib needed). Used by
 * bench/compat-syscall-cost.sh.
 *   syscall_loop [N [ia32]]   (default 5000000, native) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static long ia32_getppid(void)
{
	long ret = 64; /* __NR_getppid in syscall_32.tbl */

	__asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
	return ret;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 5000000;
	int ia32 = argc > 2 && strcmp(argv[2], "ia32") == 0;
	struct rusage ru;
	double ns;

	for (long i = 0; i < n; i++) {
		if (ia32)
			ia32_getppid();
		else
			syscall(SYS_getppid);
	}
	getrusage(RUSAGE_SELF, &ru);
	ns = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
	     (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
	printf("%.1f\n", ns / n);
	return 0;
}
