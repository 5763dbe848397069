/* sysprobe: make each named system call in a child process and print "name errno" (0: it worked).
   Built static by tests/test_runtime_seccomp.py and copied into a busybox rootfs, so that a seccomp
   profile can be probed call by call, the same way under runc and under minidocker's runtime. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long probe(const char *name) {
    if (!strcmp(name, "getpid")) return syscall(SYS_getpid);
    if (!strcmp(name, "fork")) { pid_t p = fork(); if (p == 0) _exit(0); if (p > 0) waitpid(p, 0, 0); return p; }
    if (!strcmp(name, "keyctl")) return syscall(SYS_keyctl, 1 /* JOIN_SESSION_KEYRING */, 0);
    if (!strcmp(name, "add_key")) return syscall(SYS_add_key, "user", "probe", "x", 1, -2 /* session */);
    if (!strcmp(name, "unshare-user")) return syscall(SYS_unshare, CLONE_NEWUSER);
    if (!strcmp(name, "clone-newuser")) {
        long p = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
        if (p == 0) _exit(0);
        if (p > 0) waitpid(p, 0, 0);
        return p;
    }
    if (!strcmp(name, "personality-query")) return personality(0xffffffff);
    if (!strcmp(name, "personality-linux32")) return personality(PER_LINUX32);
    if (!strcmp(name, "personality-no-aslr")) return personality(ADDR_NO_RANDOMIZE);
    if (!strcmp(name, "socket-netlink-audit")) return socket(AF_NETLINK, SOCK_RAW, 9 /* NETLINK_AUDIT */);
    if (!strcmp(name, "socket-inet")) return socket(AF_INET, SOCK_DGRAM, 0);
    if (!strcmp(name, "bpf")) return syscall(SYS_bpf, 0, 0, 0);
    if (!strcmp(name, "userfaultfd")) return syscall(SYS_userfaultfd, 0);
    fprintf(stderr, "sysprobe: unknown probe %s\n", name);
    _exit(2);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        int pipefd[2];
        if (pipe(pipefd)) return 1;
        pid_t child = fork();
        if (child == 0) {
            errno = 0;
            long result = probe(argv[i]);
            int error = result < 0 ? errno : 0;
            if (write(pipefd[1], &error, sizeof error) != sizeof error) _exit(1);
            _exit(0);
        }
        int error = -1;
        close(pipefd[1]);
        if (read(pipefd[0], &error, sizeof error) != sizeof error) error = -1;   /* -1: the child was killed */
        close(pipefd[0]);
        waitpid(child, 0, 0);
        printf("%s %d\n", argv[i], error);
    }
    return 0;
}
