step "nvme discover"
nvme discover -t tcp -a "$TARGET" -s "$PORT" > /tmp/discover || fail "nvme discover"
cat /tmp/discover
grep -q "subnqn: *$NQN" /tmp/discover || fail "discovery log does not list $NQN"
grep -q "trsvcid: *$PORT" /tmp/discover || fail "discovery log entry has the wrong port"
grep -q "trtype: *tcp" /tmp/discover || fail "discovery log entry is not TCP"
ok
