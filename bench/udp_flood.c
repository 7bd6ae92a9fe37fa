// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* udp_flood ADDR PORT SECONDS: sends small UDP datagrams with sendmmsg as
 * fast as one core can, prints the count sent. For drop-storm measurements
 * inside test network namespaces only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	struct mmsghdr msgs[64];
	struct iovec iov;
	char payload[16] = "inetmon-flood";
	unsigned long long sent = 0;
	time_t end;
	int fd;

	if (argc < 4)
		return 2;
	inet_pton(AF_INET, argv[1], &dst.sin_addr);
	dst.sin_port = htons((unsigned short)atoi(argv[2]));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof(dst)))
		return 1;
	iov.iov_base = payload;
	iov.iov_len = sizeof(payload);
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < 64; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	end = time(NULL) + atoi(argv[3]);
	while (time(NULL) < end) {
		int n = sendmmsg(fd, msgs, 64, 0);
		if (n > 0)
			sent += (unsigned long long)n;
	}
	printf("%llu\n", sent);
	return 0;
}
