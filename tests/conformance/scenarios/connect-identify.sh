connect
nvme list
step "identify controller"
nvme id-ctrl "$CTRL" > /tmp/id-ctrl || fail "nvme id-ctrl"
cat /tmp/id-ctrl
grep -q "^mn *: NovaStor" /tmp/id-ctrl || fail "model number is not NovaStor"
grep -q "^subnqn *: $NQN" /tmp/id-ctrl || fail "id-ctrl subnqn is not $NQN"
grep -Eq "^cmic *: 0xb" /tmp/id-ctrl || fail "CMIC must report multi-port, multi-controller and ANA (0xb)"
grep -Eq "^kas *: (10|0xa)$" /tmp/id-ctrl || fail "KAS must be 10 (100 ms units)"
step "identify namespace"
nvme id-ns "$DEV" > /tmp/id-ns || fail "nvme id-ns"
cat /tmp/id-ns
grep -Eq "^nsze *: 0x200000$" /tmp/id-ns || fail "NSZE is not 1 GiB in 512-byte blocks"
grep -Eq "^nmic *: 0x1$" /tmp/id-ns || fail "NMIC must mark the namespace shared"
grep -Eq "^nguid *: 0+$" /tmp/id-ns && fail "NGUID is zero"
grep -q "in use" /tmp/id-ns || fail "no LBA format in use"
step "namespace identifiers"
nvme ns-descs "$DEV" > /tmp/ns-descs || fail "nvme ns-descs"
cat /tmp/ns-descs
grep -q "uuid" /tmp/ns-descs || fail "no UUID descriptor"
grep -q "nguid" /tmp/ns-descs || fail "no NGUID descriptor"
grep -q "csi" /tmp/ns-descs || fail "no CSI descriptor"
size=$(cat "/sys/block/$(basename "$DEV")/size")
[ "$size" = 2097152 ] || fail "block device has $size sectors, expected 2097152 (1 GiB)"
[ "$(cat "/sys/block/$(basename "$DEV")/queue/logical_block_size")" = 512 ] || fail "logical block size is not 512"
[ "$(cat /sys/class/nvme/$(basename "$CTRL")/state)" = live ] || fail "controller is not live"
nvme list | grep -q "$(basename "$DEV")" || fail "nvme list does not show $DEV"
step "thin provisioning: NUSE follows what is written"
grep -Eq "^nsfeat *: 0x[0-9a-f]*[13579bdf]$" /tmp/id-ns || fail "NSFEAT does not report thin provisioning (bit 0)"
grep -Eq "^nuse *: 0$" /tmp/id-ns || fail "a new thin volume reports blocks in use: $(grep '^nuse' /tmp/id-ns)"
dd if=/dev/urandom of="$DEV" bs=1M count=1 seek=100 oflag=direct status=none || fail "dd write"
nuse=$(nvme id-ns "$DEV" | sed -n 's/^nuse *: *//p')
[ "$((nuse))" -ge 2048 ] && [ "$((nuse))" -le 2064 ] || fail "after writing 1 MiB NUSE is $nuse, expected 2048 blocks (plus filesystem rounding)"
step "controller list (Identify CNS 13h)"
nvme list-ctrl "$CTRL" > /tmp/list-ctrl || fail "nvme list-ctrl"
cat /tmp/list-ctrl
grep -Eq "num of ctrls present: *[1-9]" /tmp/list-ctrl || fail "nvme list-ctrl lists no controller"
step "get-feature 5 (error recovery), which spdk_nvme_identify reads too"
nvme get-feature "$CTRL" -f 5 || fail "nvme get-feature -f 5"
step "get-feature 9 (interrupt vector), 81h (host identifier), 82h/83h (reservation mask and persistence)"
nvme get-feature "$CTRL" -f 9 || fail "nvme get-feature -f 9"
hostid=$(cat /etc/nvme/hostid 2>/dev/null || sed 's/.*uuid://' /etc/nvme/hostnqn)
nvme get-feature "$CTRL" -f 0x81 --cdw11=1 -b > /tmp/hostid || fail "nvme get-feature -f 0x81 (EXHID)"
got=$(od -An -tx1 /tmp/hostid | tr -d ' \n')
[ "$got" = "$(echo "$hostid" | tr -d '-')" ] || fail "host identifier $got is not the one connect sent ($hostid)"
nvme get-feature "$CTRL" -f 0x82 -n 1 || fail "nvme get-feature -f 0x82"
nvme get-feature "$CTRL" -f 0x83 -n 1 || fail "nvme get-feature -f 0x83"
nvme get-feature "$CTRL" -f 7 -s 1 | grep -q "value:0x3f003f\|value: *0x0*3f003f" || fail "default (SEL 1) of the number of queues: $(nvme get-feature "$CTRL" -f 7 -s 1)"
step "log pages: supported-log-pages, fw-log, effects-log"
nvme supported-log-pages "$CTRL" > /tmp/slp || fail "nvme supported-log-pages"
cat /tmp/slp
[ -s /tmp/slp ] || fail "nvme supported-log-pages printed nothing"
nvme fw-log "$CTRL" > /tmp/fw-log || fail "nvme fw-log"
cat /tmp/fw-log
grep -Eiq "afi *: *(0x)?1$" /tmp/fw-log || fail "fw-log does not show slot 1 active"
nvme effects-log "$CTRL" || fail "nvme effects-log"
# nvme-cli 2.4 prints nothing for a fabrics controller here; read the page raw instead:
# admin Identify (06h) and I/O Write (01h, at 1024) must be marked supported (and Write as
# changing block content).
nvme get-log "$CTRL" --log-id=5 --log-len=4096 --raw-binary > /tmp/effects.bin || fail "nvme get-log 05h"
[ "$(od -An -tx4 -j 24 -N 4 /tmp/effects.bin | tr -d ' ')" = 00000001 ] || fail "effects log: Identify not CSUPP"
[ "$(od -An -tx4 -j 1028 -N 4 /tmp/effects.bin | tr -d ' ')" = 00000003 ] || fail "effects log: Write not CSUPP|LBCC"
step "ANA state"
nvme ana-log "$CTRL" | tee /tmp/ana-log || fail "nvme ana-log"
grep -qi "optimized" /tmp/ana-log || fail "ANA group is not optimized"
disconnect
ok
