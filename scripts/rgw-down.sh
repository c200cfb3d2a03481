#!/bin/bash
# Stops the daemons scripts/rgw-up.sh started in STATE_DIR (only those, by their pid files)
# and removes STATE_DIR. Safe to call twice or after a failed start. KEEP_STATE=1 keeps logs.
STATE=$(realpath -m "${1:?usage: rgw-down.sh STATE_DIR}")
[ -d "$STATE" ] || exit 0
OSD_ID=$(cat "$STATE/osd-id" 2>/dev/null || echo 0)
pids=()
for name in client.rgw.a "osd.$OSD_ID" mon.a; do
  file="$STATE/run/$name.pid"
  [ -f "$file" ] || continue
  pid=$(cat "$file")
  # Only a daemon of this cluster: a stale pid file must not kill a reused pid.
  grep -qaF "$STATE/ceph.conf" "/proc/$pid/cmdline" 2>/dev/null && pids+=("$pid")
done
if [ ${#pids[@]} -gt 0 ]; then
  kill "${pids[@]}" 2>/dev/null
  # Each daemon takes ~2 s to shut down cleanly (and together longer); the cluster is
  # thrown away, so after a 1 s grace period they are killed outright.
  alive=1
  for _ in $(seq 1 10); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  if [ $alive = 1 ]; then
    kill -9 "${pids[@]}" 2>/dev/null
    for pid in "${pids[@]}"; do
      while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    done
  fi
fi
[ "${KEEP_STATE:-0}" = 1 ] || rm -rf "$STATE"
exit 0
