// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* udp_flood ADDR PORT SECONDS: sends small UDP datagrams with sendmmsg as
 * fast as one core can for SECONDS (fractions allowed, measured on the
 * monotonic clock), prints the count sent. For drop-storm measurements
 * inside test network namespaces only.
 *
 * The duration used to be `time(NULL) + SECONDS`, which ends at the next
 * whole-second boundary: a run lasted anywhere in (SECONDS-1, SECONDS], and
 * a run started right after another (in phase with the second) lasted
 * longer than one started after a variable wait, such as waiting for a
 * monitor to attach. That biased the bare-vs-monitor comparisons. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "udp_send.h"

int main(int argc, char **argv)
{
	struct mmsghdr msgs[64];
	struct iovec iov;
	char payload[16] = "inetmon-flood";
	unsigned long long sent = 0;
	double end;
	int fd;

	if (argc < 4)
		return 2;
	fd = udp_connect(argv[1], argv[2]);
	if (fd < 0)
		return 1;
	iov.iov_base = payload;
	iov.iov_len = sizeof(payload);
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < 64; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	end = now() + atof(argv[3]);
	while (now() < end) {
		int n = sendmmsg(fd, msgs, 64, 0);
		if (n > 0)
			sent += (unsigned long long)n;
	}
	printf("%llu\n", sent);
	return 0;
}
