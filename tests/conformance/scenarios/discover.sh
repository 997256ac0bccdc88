step "nvme discover"
nvme discover -t tcp -a "$TARGET" -s "$PORT" > /tmp/discover || fail "nvme discover"
cat /tmp/discover
grep -q "subnqn: *$NQN" /tmp/discover || fail "discovery log does not list $NQN"
grep -q "trsvcid: *$PORT" /tmp/discover || fail "discovery log entry has the wrong port"
grep -q "trtype: *tcp" /tmp/discover || fail "discovery log entry is not TCP"
# No TLS here: TREQ says "not specified", as nvmet's does; libnvme 1.3 would turn an explicit
# value into a "tls" connect option that the 6.1 kernel rejects (connect-all failed on it). Bit 2
# says SQ flow control may be disabled (nvmet sets it too): connect-all then asks for that.
grep -Eq "treq: *not specified, sq flow control disable supported" /tmp/discover \
  || fail "discovery log TREQ is not 'not specified, sq flow control disable supported': $(grep treq /tmp/discover)"
# MAXCMD of the discovery controller covers the host's queue size: no "clamping down" warning.
dmesg | grep -i "clamping down" && fail "the host clamped its queue size to our MAXCMD"
ok
