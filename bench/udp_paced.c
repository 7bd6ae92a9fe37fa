// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* udp_paced ADDR PORT SECONDS [RATE]: sends 16-byte UDP datagrams with
 * send(2) for SECONDS, at most RATE a second (0 or absent: as fast as one
 * core can), and prints the number of send calls made. Unlike udp_flood it
 * ignores send errors, so it also floods into an nftables *output* drop
 * rule (where every send fails with EPERM). For drop-storm measurements
 * inside test network namespaces only. */
#define _GNU_SOURCE
#include <stdio.h>

#include "udp_send.h"

int main(int argc, char **argv)
{
	char payload[16] = "inetmon-paced";
	unsigned long long sent = 0;
	double start, end, rate;
	int fd;

	if (argc < 4)
		return 2;
	rate = argc > 4 ? atof(argv[4]) : 0;
	fd = udp_connect(argv[1], argv[2]);
	if (fd < 0)
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
