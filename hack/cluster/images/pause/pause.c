/*
 * pause: the pod sandbox's process for the kubectl-shark test cluster (what registry.k8s.io/pause
 * is for a real cluster): sleeps forever as PID 1 of the pod, reaps zombies, exits on INT/TERM.
 * Built with `gcc -static` by hack/cluster/images.sh and imported as registry.k8s.io/pause:3.10.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void sigdown(int signo) {
	psignal(signo, "Shutting down, got signal");
	exit(0);
}

static void sigreap(int signo) {
	(void)signo;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(int argc, char **argv) {
	if (argc > 1 && !strcmp(argv[1], "-v")) {
		printf("pause (kubectl-shark test cluster)\n");
		return 0;
	}
	if (getpid() != 1)
		fprintf(stderr, "Warning: pause should be the first process\n");
	struct sigaction down = {.sa_handler = sigdown};
	sigaction(SIGINT, &down, NULL);
	sigaction(SIGTERM, &down, NULL);
	struct sigaction reap = {.sa_handler = sigreap, .sa_flags = SA_NOCLDSTOP};
	sigaction(SIGCHLD, &reap, NULL);
	for (;;)
		pause();
	return 42;
}
