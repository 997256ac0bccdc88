#!/usr/bin/env python3
"""Prints a loopback TCP port nothing listens on, below the kernel's ephemeral range.

A port from bind(0) is in the range connect() takes source ports from: released for the target
to bind, any connection may take it first. Ports below the range are never handed to connect();
this picks one at random (16384 and up) and checks that nothing listens there, as the tests'
LoopbackPorts does. With an ephemeral range starting at 16384 or lower, it falls back to bind(0).
"""
import random
import socket

LOWEST = 16384

with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
    ephemeral_first = int(f.read().split()[0])


def bindable(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


if ephemeral_first <= LOWEST:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
else:
    for port in random.sample(range(LOWEST, ephemeral_first), min(200, ephemeral_first - LOWEST)):
        if bindable(port):
            print(port)
            break
    else:
        raise SystemExit("loopback-port: no free port below the ephemeral range")
