// What the floor programs (loopback-floor.c, disk-loop-floor.c) share: clocks, CPU accounting,
// failing loudly, and blocking sends resumed after a short send.
#ifndef NOVASTOR_FLOOR_COMMON_H
#define NOVASTOR_FLOOR_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

static double Seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// User plus system CPU of this process: the kernel's TCP (and block) work done on its behalf counts.
static double CpuSeconds(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_utime.tv_usec * 1e-6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec * 1e-6;
}

static void Fail(const char *what)
{
    perror(what);
    exit(1);
}

static void SendAll(int fd, const void *bytes, size_t length)
{
    for (size_t sent = 0; sent < length;) {
        ssize_t n = send(fd, (const char *)bytes + sent, length - sent, MSG_NOSIGNAL);
        if (n <= 0) Fail("send");
        sent += (size_t)n;
    }
}

// One gathered send of COUNT pieces, resumed after a short send (the pieces are consumed).
static void SendAllPieces(int fd, struct iovec *pieces, int count)
{
    struct msghdr message = {.msg_iov = pieces, .msg_iovlen = (size_t)count};
    while (message.msg_iovlen > 0) {
        ssize_t n = sendmsg(fd, &message, MSG_NOSIGNAL);
        if (n <= 0) Fail("sendmsg");
        while (n > 0 && message.msg_iovlen > 0) {
            if ((size_t)n >= message.msg_iov->iov_len) {
                n -= (ssize_t)message.msg_iov->iov_len;
                message.msg_iov++;
                message.msg_iovlen--;
            } else {
                message.msg_iov->iov_base = (char *)message.msg_iov->iov_base + n;
                message.msg_iov->iov_len -= (size_t)n;
                n = 0;
            }
        }
    }
}

#endif
