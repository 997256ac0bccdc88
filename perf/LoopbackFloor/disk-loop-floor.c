// The disk loop floor: what a network block server written in C, with nothing but the loop itself,
// reaches on this machine's file rows, next to fio on the same file (see perf/README.md, "The disk
// loop floor").
//
//   disk-loop-floor server PORT FILE POLL_US [batch|each]
//       serves 4 KiB reads and writes of FILE until the client hangs up
//   disk-loop-floor client PORT FILE_BYTES read|write QD SECONDS RAMP_SECONDS [batch|each]
//       keeps QD random 4 KiB requests in flight, prints its figures
//
// What crosses the socket has the byte counts of NVMe/TCP on the rung's 4 KiB rows, without the
// protocol: a 72-byte command (a capsule: 8-byte PDU header and 64-byte SQE), followed by the 4 KiB
// of a write (in-capsule data, as the managed initiator sends a 4 KiB write); a write is answered
// by a 24-byte response, a read by a 24-byte data header, the 4 KiB and a 24-byte response.
//
// The server is one thread doing the whole loop, as a NovaStor reactor does: one io_uring holds
// the socket's receive and the disk requests; received commands go to the disk at once, one
// request per io_uring_enter (as fio and the reactor submit them); completions are answered with
// one gathered send per pass ("each": a send per completion); a write's data is copied once, from
// the receive buffer into the request's registered buffer (READ_FIXED / WRITE_FIXED on an O_DIRECT
// file), and a read is sent straight from it. POLL_US > 0 looks at the ring for that long before sleeping in it. No
// controller, no queue state, no digests, no error handling beyond stopping: it is less than the
// target does per request, so it shows what the loop alone allows on this machine.
//
// The client is one thread on a blocking socket: it sends QD commands, then for every response
// batch it receives sends as many new commands in one send, as the managed initiator's queue does
// ("each": a send per new command).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "floor-common.h"

enum {
    Block = 4096,
    Command = 72,
    Response = 24,
    DataHeader = 24,
    MaxDepth = 256,
    ReceiveBytes = 2 << 20,
    OpWrite = 1,
    OpRead = 2,
    PduResponse = 5,
    PduData = 7,
};
static const uint64_t ReceiveTag = UINT64_MAX;

static void FailWith(const char *what, int negativeErrno)
{
    fprintf(stderr, "%s: %s\n", what, strerror(-negativeErrno));
    exit(1);
}

static void NoDelay(int fd)
{
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) Fail("TCP_NODELAY");
}

// Command: [0] opcode, [2..3] command id, [8..15] byte offset; the rest of the 72 bytes unused.
// Response and data header: [0] kind, [2..3] command id.
static uint16_t CommandId(const unsigned char *pdu) { return (uint16_t)(pdu[2] | pdu[3] << 8); }

static void PutHeader(unsigned char *pdu, unsigned char kind, uint16_t id)
{
    pdu[0] = kind;
    pdu[2] = (unsigned char)id;
    pdu[3] = (unsigned char)(id >> 8);
}

// ---------------------------------------------------------------------------------------------
// Server

struct Slot {
    unsigned char dataHeader[DataHeader];
    unsigned char response[Response];
    unsigned char opcode;
};

struct Server {
    struct io_uring ring;
    int socket;
    int file;
    unsigned char *blocks; // MaxDepth registered 4 KiB buffers, one per command id
    struct Slot slots[MaxDepth];
    unsigned char *received;
    size_t receivedBytes;
    struct iovec pieces[3 * MaxDepth];
    int pieceCount;
    long requests;
    int closed;
    int sendEach;
};

static struct io_uring_sqe *NextEntry(struct Server *s)
{
    struct io_uring_sqe *entry = io_uring_get_sqe(&s->ring);
    if (entry == NULL) {
        io_uring_submit(&s->ring);
        entry = io_uring_get_sqe(&s->ring);
        if (entry == NULL) { fprintf(stderr, "io_uring: no submission entry\n"); exit(1); }
    }
    return entry;
}

static void PostReceive(struct Server *s)
{
    struct io_uring_sqe *entry = NextEntry(s);
    io_uring_prep_recv(entry, s->socket, s->received + s->receivedBytes, ReceiveBytes - s->receivedBytes, 0);
    io_uring_sqe_set_data64(entry, ReceiveTag);
}

// Every whole command in the receive buffer goes to the disk, each in its own io_uring_enter.
static void StartCommands(struct Server *s)
{
    size_t at = 0;
    while (s->receivedBytes - at >= Command) {
        const unsigned char *command = s->received + at;
        unsigned char opcode = command[0];
        uint16_t id = CommandId(command);
        uint64_t offset;
        memcpy(&offset, command + 8, sizeof offset);
        size_t length = opcode == OpWrite ? Command + Block : Command;
        if (s->receivedBytes - at < length) break;
        if (id >= MaxDepth || (opcode != OpWrite && opcode != OpRead)) { fprintf(stderr, "bad command\n"); exit(1); }
        unsigned char *block = s->blocks + (size_t)id * Block;
        struct io_uring_sqe *entry = NextEntry(s);
        if (opcode == OpWrite) {
            memcpy(block, command + Command, Block);
            io_uring_prep_write_fixed(entry, s->file, block, Block, offset, 0);
        } else {
            io_uring_prep_read_fixed(entry, s->file, block, Block, offset, 0);
        }
        io_uring_sqe_set_data64(entry, id);
        s->slots[id].opcode = opcode;
        io_uring_submit(&s->ring);
        at += length;
    }
    memmove(s->received, s->received + at, s->receivedBytes - at);
    s->receivedBytes -= at;
}

static void Complete(struct Server *s, uint16_t id, int result)
{
    if (result != Block) FailWith("disk request", result < 0 ? result : -EIO);
    struct Slot *slot = &s->slots[id];
    if (slot->opcode == OpRead) {
        s->pieces[s->pieceCount++] = (struct iovec){slot->dataHeader, DataHeader};
        s->pieces[s->pieceCount++] = (struct iovec){s->blocks + (size_t)id * Block, Block};
    }
    s->pieces[s->pieceCount++] = (struct iovec){slot->response, Response};
    s->requests++;
    if (s->sendEach) {
        SendAllPieces(s->socket, s->pieces, s->pieceCount);
        s->pieceCount = 0;
    }
}

static void HandleCompletion(struct Server *s, struct io_uring_cqe *completion)
{
    uint64_t tag = io_uring_cqe_get_data64(completion);
    if (tag != ReceiveTag) {
        Complete(s, (uint16_t)tag, completion->res);
        return;
    }
    if (completion->res <= 0) {
        s->closed = 1;
        return;
    }
    s->receivedBytes += (size_t)completion->res;
    StartCommands(s);
    PostReceive(s);
}

static int RunServer(int port, const char *path, int pollMicroseconds, int sendEach)
{
    struct Server *s = calloc(1, sizeof *s);
    if (s == NULL) Fail("calloc");
    s->sendEach = sendEach;
    s->file = open(path, O_RDWR | O_DIRECT);
    if (s->file < 0) Fail(path);
    if (posix_memalign((void **)&s->blocks, Block, (size_t)MaxDepth * Block) != 0) Fail("posix_memalign");
    s->received = malloc(ReceiveBytes);
    if (s->received == NULL) Fail("malloc");
    for (int id = 0; id < MaxDepth; id++) {
        PutHeader(s->slots[id].dataHeader, PduData, (uint16_t)id);
        PutHeader(s->slots[id].response, PduResponse, (uint16_t)id);
    }

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0) Fail("bind");
    if (listen(listener, 1) != 0) Fail("listen");
    s->socket = accept(listener, NULL, NULL);
    if (s->socket < 0) Fail("accept");
    NoDelay(s->socket);

    int error = io_uring_queue_init(2 * MaxDepth, &s->ring, 0);
    if (error < 0) FailWith("io_uring_queue_init", error);
    struct iovec registered = {s->blocks, (size_t)MaxDepth * Block};
    error = io_uring_register_buffers(&s->ring, &registered, 1);
    if (error < 0) FailWith("io_uring_register_buffers", error);

    double started = Seconds(), cpuStarted = CpuSeconds();
    PostReceive(s);
    while (!s->closed) {
        struct io_uring_cqe *completion = NULL;
        if (pollMicroseconds > 0) {
            // Look at the ring (submitting what is prepared) until something completes or the
            // allowance is spent, then sleep in it.
            io_uring_submit(&s->ring);
            double until = Seconds() + pollMicroseconds * 1e-6;
            while (io_uring_peek_cqe(&s->ring, &completion) != 0 && Seconds() < until) {}
        }
        if (completion == NULL) {
            error = io_uring_submit_and_wait(&s->ring, 1);
            if (error < 0 && error != -EINTR) FailWith("io_uring_submit_and_wait", error);
        }
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&s->ring, head, completion)
        {
            HandleCompletion(s, completion);
            seen++;
        }
        io_uring_cq_advance(&s->ring, seen);
        if (s->pieceCount > 0) {
            SendAllPieces(s->socket, s->pieces, s->pieceCount);
            s->pieceCount = 0;
        }
    }
    double seconds = Seconds() - started, cpu = CpuSeconds() - cpuStarted;
    printf("%ld requests in %.2f s, %.2f us CPU per request\n", s->requests, seconds, cpu * 1e6 / (double)(s->requests > 0 ? s->requests : 1));
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Client

static uint64_t state = 0x9E3779B97F4A7C15ULL;
static uint64_t NextRandom(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static size_t PutCommand(unsigned char *out, unsigned char opcode, uint16_t id, uint64_t blocks, const unsigned char *data)
{
    memset(out, 0, Command);
    out[0] = opcode;
    out[2] = (unsigned char)id;
    out[3] = (unsigned char)(id >> 8);
    uint64_t offset = (NextRandom() % blocks) * Block;
    memcpy(out + 8, &offset, sizeof offset);
    if (opcode != OpWrite) return Command;
    memcpy(out + Command, data, Block);
    return Command + Block;
}

static int RunClient(int port, uint64_t fileBytes, const char *kind, int depth, double seconds, double rampSeconds, int sendEach)
{
    unsigned char opcode = strcmp(kind, "write") == 0 ? OpWrite : OpRead;
    if (depth < 1 || depth > MaxDepth) { fprintf(stderr, "QD 1..%d\n", MaxDepth); return 2; }
    uint64_t blocks = fileBytes / Block;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) Fail("connect");
    NoDelay(fd);

    unsigned char data[Block];
    for (int i = 0; i < Block; i++) data[i] = (unsigned char)(i * 7);
    size_t outCapacity = (size_t)depth * (Command + Block);
    unsigned char *out = malloc(outCapacity);
    unsigned char *in = malloc(ReceiveBytes);
    if (out == NULL || in == NULL) Fail("malloc");

    size_t outBytes = 0;
    for (int id = 0; id < depth; id++) outBytes += PutCommand(out + outBytes, opcode, (uint16_t)id, blocks, data);
    SendAll(fd, out, outBytes);

    double started = Seconds(), measureFrom = started + rampSeconds, stopAt = measureFrom + seconds;
    double cpuAtStart = 0, measuredFrom = 0;
    long completed = 0, measured = 0;
    int outstanding = depth, issuing = 1, measuring = 0;
    size_t inBytes = 0;
    while (outstanding > 0) {
        ssize_t n = recv(fd, in + inBytes, ReceiveBytes - inBytes, 0);
        if (n <= 0) Fail("recv");
        inBytes += (size_t)n;
        double now = Seconds();
        if (!measuring && now >= measureFrom) {
            measuring = 1;
            measuredFrom = now;
            cpuAtStart = CpuSeconds();
            measured = completed;
        }
        if (issuing && now >= stopAt) {
            issuing = 0;
            measured = completed - measured;
            seconds = now - measuredFrom;
            cpuAtStart = CpuSeconds() - cpuAtStart;
        }
        size_t at = 0;
        outBytes = 0;
        while (inBytes - at >= Response) {
            unsigned char *pdu = in + at;
            if (pdu[0] == PduData) {
                if (inBytes - at < DataHeader + Block) break;
                at += DataHeader + Block;
                continue;
            }
            if (pdu[0] != PduResponse) { fprintf(stderr, "bad response\n"); return 1; }
            uint16_t id = CommandId(pdu);
            at += Response;
            completed++;
            if (issuing) outBytes += PutCommand(out + outBytes, opcode, id, blocks, data);
            else outstanding--;
            if (sendEach && outBytes > 0) {
                SendAll(fd, out, outBytes);
                outBytes = 0;
            }
        }
        memmove(in, in + at, inBytes - at);
        inBytes -= at;
        if (outBytes > 0) SendAll(fd, out, outBytes);
    }
    close(fd);
    printf("iops %.0f cpu_us_per_io %.2f\n", measured / seconds, cpuAtStart * 1e6 / (double)(measured > 0 ? measured : 1));
    return 0;
}

// "each" sends as soon as there is something to send; "batch" (the default) once per pass.
static int SendEach(int argc, char **argv, int at)
{
    if (argc <= at || strcmp(argv[at], "batch") == 0) return 0;
    if (strcmp(argv[at], "each") == 0) return 1;
    fprintf(stderr, "send mode is batch or each, not %s\n", argv[at]);
    exit(2);
}

int main(int argc, char **argv)
{
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "server") == 0)
        return RunServer(atoi(argv[2]), argv[3], atoi(argv[4]), SendEach(argc, argv, 5));
    if ((argc == 8 || argc == 9) && strcmp(argv[1], "client") == 0)
        return RunClient(atoi(argv[2]), strtoull(argv[3], NULL, 10), argv[4], atoi(argv[5]), atof(argv[6]), atof(argv[7]), SendEach(argc, argv, 8));
    fprintf(stderr, "usage: disk-loop-floor server PORT FILE POLL_US [batch|each]\n"
                    "       disk-loop-floor client PORT FILE_BYTES read|write QD SECONDS RAMP_SECONDS [batch|each]\n");
    return 2;
}
