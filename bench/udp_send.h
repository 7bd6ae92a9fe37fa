// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* What bench/udp_flood.c and bench/udp_paced.c share: the monotonic clock
 * in seconds, and a UDP socket connected to the ADDR PORT of their command
 * lines. For drop-storm measurements inside test network namespaces only. */
#ifndef INETMON_BENCH_UDP_SEND_H
#define INETMON_BENCH_UDP_SEND_H

#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A UDP socket connected to ADDR (dotted IPv4) port PORT, or -1. */
static int udp_connect(const char *addr, const char *port)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	int fd;

	inet_pton(AF_INET, addr, &dst.sin_addr);
	dst.sin_port = htons((unsigned short)atoi(port));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&dst, sizeof(dst))) {
		close(fd);
		return -1;
	}
	return fd;
}

#endif
