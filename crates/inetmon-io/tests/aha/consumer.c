/*
 * A minimal AHAFS consumer in the shape of the AIX documentation's usage
 * pattern: create/open the monitor file, write the specification string,
 * then wait for events either in read() (WAIT_IN_READ) or in select()
 * (WAIT_IN_SELECT) and print what each read returns.
 *
 *   consumer PATH SPEC read|select
 *
 * Prints "armed" once the specification is accepted, the data of every
 * read, and "EOF" at end of file. A refused write prints "write: EINVAL"
 * (or the errno's name) and exits 3.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[8192];
	int fd;
	ssize_t n;

	if (argc != 4) {
		fprintf(stderr, "usage: consumer PATH SPEC read|select\n");
		return 2;
	}
	fd = open(argv[1], O_CREAT | O_RDWR, 0600);
	if (fd < 0) {
		perror("open");
		return 1;
	}
	/* The documentation's examples write the string with its NUL. */
	if (write(fd, argv[2], strlen(argv[2]) + 1) < 0) {
		printf("write: %s\n", errno == EINVAL ? "EINVAL" : strerror(errno));
		return 3;
	}
	printf("armed\n");
	fflush(stdout);
	for (;;) {
		if (strcmp(argv[3], "select") == 0) {
			fd_set rfds;
			FD_ZERO(&rfds);
			FD_SET(fd, &rfds);
			if (select(fd + 1, &rfds, NULL, NULL, NULL) < 0) {
				perror("select");
				return 1;
			}
			if (!FD_ISSET(fd, &rfds))
				continue;
		}
		n = read(fd, buf, sizeof buf);
		if (n < 0) {
			perror("read");
			return 1;
		}
		if (n == 0) {
			printf("EOF\n");
			return 0;
		}
		fwrite(buf, 1, (size_t)n, stdout);
		fflush(stdout);
	}
}
