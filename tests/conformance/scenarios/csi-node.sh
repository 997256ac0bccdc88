# The CSI node plugin (novastor-csi, NativeAOT, copied in at /extra) serving this guest as a
# Kubernetes node would run it: its Unix socket, /etc/nvme, /sys, /dev and the real tools (nvme,
# blkid, mkfs, mount). The test on the host drives it as the kubelet would, over the socket (socat
# relays it to a port QEMU forwards from the host's loopback), and checks the results in here
# through a command channel (one shell script per connection, its output and exit code back).
# A second plugin finds an `nvme` that never returns, to show the plugin's command timeout.
#
# Variables from the test: NODE_NAME, CSI_PORT, HUNG_CSI_PORT, SHELL_PORT (guest ports forwarded
# from the host), DONE_LIMIT (seconds the host may take); PLUGIN_ARGS, more --Csi:... arguments for
# the plugin (on every start), separated by commas; HUNG_CSI_PORT empty: no second plugin.

# start-plugin.sh SOCKET_DIR LOG [more --Csi:... arguments]: a node plugin in a session of its own
# (so that it outlives the command channel's connection when the host restarts it); its pid goes
# to SOCKET_DIR/pid.
cat >/tmp/start-plugin.sh <<EOF
#!/bin/sh
dir=\$1 log=\$2
shift 2
mkdir -p "\$dir"
setsid /extra/novastor-csi --Csi:Mode=node --Csi:Node:Name="$NODE_NAME" --Csi:Endpoint="unix://\$dir/csi.sock" \\
  --Logging:Console:FormatterName=simple --Logging:Console:FormatterOptions:SingleLine=true $(echo "${PLUGIN_ARGS:-}" | tr ',' ' ') "\$@" >>"\$log" 2>&1 </dev/null &
echo \$! >"\$dir/pid"
EOF
chmod 755 /tmp/start-plugin.sh
plugin() { /tmp/start-plugin.sh "$@"; }

# What a DaemonSet upgrade does to the plugin: stopped (SIGTERM) and started again, with what it
# had staged still mounted and connected. restart-plugin.sh KILL: a crash instead.
cat >/tmp/restart-plugin.sh <<'EOF'
#!/bin/sh
pid=$(cat /run/csi/pid)
kill -"${1:-TERM}" "$pid"
i=0
while kill -0 "$pid" 2>/dev/null; do
  i=$((i + 1))
  if [ $i -gt 100 ]; then echo "the plugin did not stop within 10 s"; exit 1; fi
  sleep 0.1
done
rm -f /run/csi/csi.sock
echo "--- restarted ---" >>/tmp/csi.log
/tmp/start-plugin.sh /run/csi /tmp/csi.log
i=0
until [ -S /run/csi/csi.sock ]; do
  i=$((i + 1))
  if [ $i -gt 600 ]; then echo "the plugin made no socket within 60 s"; exit 1; fi
  sleep 0.1
done
EOF
chmod 755 /tmp/restart-plugin.sh

step "start the node plugin"
[ -x /extra/novastor-csi ] || fail "no /extra/novastor-csi (scripts/publish-guest-tools.sh builds it)"
mkdir -p /var/lib/kubelet
plugin /run/csi /tmp/csi.log
# The hung tool: a shell that waits an hour (a child of its own, so the kill must take the whole tree).
mkdir -p /tmp/hung-bin
printf '#!/bin/sh\nsleep 3600\necho never\n' >/tmp/hung-bin/nvme
chmod 755 /tmp/hung-bin/nvme
if [ -n "${HUNG_CSI_PORT:-}" ]; then
  PATH=/tmp/hung-bin:$PATH plugin /run/csi-hung /tmp/csi-hung.log --Csi:Node:CommandTimeoutSeconds=5
else
  touch /tmp/csi-hung.log
fi

i=0
until [ -S /run/csi/csi.sock ] && { [ -z "${HUNG_CSI_PORT:-}" ] || [ -S /run/csi-hung/csi.sock ]; }; do
  i=$((i + 1))
  [ $i -gt 120 ] && { cat /tmp/csi.log /tmp/csi-hung.log; fail "the node plugin did not make its socket within 60 s"; }
  sleep 0.5
done

# One command per connection: the script's lines up to NOVASTOR-END, run with sh -e (stdin
# /dev/null), then its exit code. The connection closes when it ends.
cat >/tmp/serve-command.sh <<'EOF'
#!/bin/sh
f=$(mktemp)
while IFS= read -r line; do
  [ "$line" = NOVASTOR-END ] && break
  printf '%s\n' "$line" >>"$f"
done
sh -e "$f" </dev/null 2>&1
echo "NOVASTOR-COMMAND-EXIT=$?"
rm -f "$f"
EOF
chmod 755 /tmp/serve-command.sh

socat TCP-LISTEN:"$CSI_PORT",fork,reuseaddr UNIX-CONNECT:/run/csi/csi.sock &
[ -z "${HUNG_CSI_PORT:-}" ] || socat TCP-LISTEN:"${HUNG_CSI_PORT:-}",fork,reuseaddr UNIX-CONNECT:/run/csi-hung/csi.sock &
socat TCP-LISTEN:"$SHELL_PORT",fork,reuseaddr EXEC:/tmp/serve-command.sh &
sleep 1
echo "NOVASTOR-CSI-READY"

# The host drives the plugin now; it writes /tmp/csi-done (its verdict) when it is finished.
i=0
until [ -e /tmp/csi-done ]; do
  i=$((i + 1))
  [ $i -gt "$DONE_LIMIT" ] && { echo "the host did not finish within $DONE_LIMIT s"; break; }
  sleep 1
done

step "node plugin log"
cat /tmp/csi.log
step "hung-nvme node plugin log"
cat /tmp/csi-hung.log
[ "$(cat /tmp/csi-done 2>/dev/null)" = pass ] || fail "the host's checks did not pass (see the test output)"
ok
