// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* udp_paced ADDR PORT SECONDS [RATE]: sends 16-byte UDP datagrams with
 * send(2) for SECONDS, at most RATE a second (0 or absent: as fast as one
 * core can), and prints the number of send calls made. Unlike udp_flood it
 * ignores send errors, so it also floods into an nftables *output* drop
 * rule (where every send fails with EPERM). For drop-storm measurements
 * inside test network namespaces only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
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

int main(int argc, char **argv)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	char payload[16] = "inetmon-paced";
	unsigned long long sent = 0;
	double start, end, rate;
	int fd;

	if (argc < 4)
		return 2;
	inet_pton(AF_INET, argv[1], &dst.sin_addr);
	dst.sin_port = htons((unsigned short)atoi(argv[2]));
	rate = argc > 4 ? atof(argv[4]) : 0;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof(dst)))
		return 1;
	start = now();
	end = start + atof(argv[3]);
	for (;;) {
		double t = now();

		if (t >= end)
			break;
		/* Paced: stay at or below RATE * elapsed; sleep off any lead. */
		if (rate > 0 && (double)sent >= rate * (t - start)) {
			usleep(200);
			continue;
		}
		for (int i = 0; i < 64; i++)
			(void)send(fd, payload, sizeof(payload), 0);
		sent += 64;
	}
	printf("%llu\n", sent);
	return 0;
}
