// The loopback floor: what the kernel's TCP alone costs each side of a 128 KiB write on this
// machine, with no NVMe/TCP and no managed code (see perf/README.md, "The loopback floor").
//
//   loopback-floor server PORT null|copy    receives until the client hangs up, prints per-window figures
//   loopback-floor client PORT QD SECONDS   keeps QD writes in flight for SECONDS, prints its figures
//
// A "write" is what the data phase of an NVMe/TCP 128 KiB write puts on the wire: a 24-byte header
// and 128 KiB of data, sent as one gather (sendmsg of two pieces, as the managed initiator sends an
// H2CData PDU), answered by a 16-byte response. Each side is one thread on a blocking socket (it
// sleeps while nothing is there: no polling). The server receives whatever has arrived into a
// buffer of four writes, handles every whole write in it ("copy": copies the data into a 1 GiB
// region with non-temporal stores, as the memory namespace does; "null": drops it) and answers all
// of them with one send. This is less work per write than the target does (no command capsule, no
// R2T, no controller), so the target's CPU per write should be at or above the server's figure.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <immintrin.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "floor-common.h"

enum { Header = 24, Data = 128 * 1024, Record = Header + Data, Response = 16, MaxDepth = 64, BufferedWrites = 4 };
static const size_t RegionBytes = 1UL << 30;
static const long Window = 5000; // writes per line the server prints

// Header and data as one sendmsg of two pieces, resumed after a short send.
static void SendWrite(int fd, char *header, char *data)
{
    struct iovec pieces[2] = {{header, Header}, {data, Data}};
    SendAllPieces(fd, pieces, 2);
}

// 64 bytes at a time with streaming stores: the destination is not read into the cache first.
static void CopyNonTemporal(char *to, const char *from, size_t length)
{
    for (size_t i = 0; i < length; i += 64) {
        __m256i low = _mm256_loadu_si256((const __m256i *)(from + i));
        __m256i high = _mm256_loadu_si256((const __m256i *)(from + i + 32));
        _mm256_stream_si256((__m256i *)(to + i), low);
        _mm256_stream_si256((__m256i *)(to + i + 32), high);
    }
    _mm_sfence();
}

static int Server(struct sockaddr_in *address, int copy)
{
    // The region is made and touched before the listener exists, so the client's clock starts
    // only once the server can answer.
    char *region = mmap(NULL, RegionBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) Fail("mmap");
    madvise(region, RegionBytes, MADV_HUGEPAGE); // as the memory namespace asks
    memset(region, 1, RegionBytes);              // touched up front, as a filled volume is

    int one = 1;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (struct sockaddr *)address, sizeof *address) != 0) Fail("bind");
    if (listen(listener, 1) != 0) Fail("listen");
    int fd = accept(listener, NULL, NULL);
    if (fd < 0) Fail("accept");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    const size_t capacity = BufferedWrites * Record;
    char *buffer = aligned_alloc(4096, (capacity + 4095) & ~(size_t)4095); // C11: a multiple of the alignment
    if (buffer == NULL) Fail("aligned_alloc");
    static char responses[BufferedWrites * Response]; // one receive holds at most that many whole writes
    size_t have = 0, at = 0;
    long writes = 0;
    double cpu0 = CpuSeconds(), time0 = Seconds();
    for (;;) {
        ssize_t n = recv(fd, buffer + have, capacity - have, 0);
        if (n <= 0) return 0; // the client hung up
        have += (size_t)n;
        size_t used = 0;
        int answered = 0;
        while (have - used >= Record) {
            if (copy) CopyNonTemporal(region + at, buffer + used + Header, Data);
            at = (at + Data) % RegionBytes;
            used += Record;
            answered++;
            if (++writes % Window == 0) {
                double cpu = CpuSeconds(), time = Seconds();
                printf("server %.0f writes/s %.1f us CPU per write\n", Window / (time - time0), (cpu - cpu0) / Window * 1e6);
                fflush(stdout);
                cpu0 = cpu;
                time0 = time;
            }
        }
        if (answered > 0) SendAll(fd, responses, (size_t)answered * Response);
        memmove(buffer, buffer + used, have - used);
        have -= used;
    }
}

static int Client(struct sockaddr_in *address, int depth, double seconds)
{
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)address, sizeof *address) != 0) Fail("connect");
    static char header[Header];
    char *data = aligned_alloc(4096, Data);
    if (data == NULL) Fail("aligned_alloc");
    memset(data, 7, Data);
    char response[Response];
    for (int i = 0; i < depth; i++) SendWrite(fd, header, data);
    long writes = 0;
    double cpu0 = CpuSeconds(), time0 = Seconds();
    while (Seconds() - time0 < seconds) {
        if (recv(fd, response, Response, MSG_WAITALL) != Response) Fail("recv");
        SendWrite(fd, header, data);
        writes++;
    }
    double cpu = CpuSeconds(), elapsed = Seconds() - time0;
    printf("client %.0f writes/s %.1f us CPU per write %.2f GB/s\n", writes / elapsed, (cpu - cpu0) / writes * 1e6,
           writes * (double)Data / elapsed / 1e9);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s server PORT null|copy | client PORT QD SECONDS\n", argv[0]);
        return 2;
    }
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    if (strcmp(argv[1], "server") == 0) return Server(&address, strcmp(argv[3], "copy") == 0);
    if (argc < 5) return 2;
    int depth = atoi(argv[3]);
    if (depth < 1 || depth > MaxDepth) {
        fprintf(stderr, "QD must be 1..%d\n", MaxDepth);
        return 2;
    }
    return Client(&address, depth, atof(argv[4]));
}
