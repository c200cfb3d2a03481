#!/bin/bash
# Starts a throwaway single-node Ceph cluster (one monitor, one in-memory OSD, one radosgw)
# on free loopback ports, for cairn's S3 integration tests.
#
#   scripts/rgw-up.sh STATE_DIR      prints S3_ENDPOINT/S3_ACCESS_KEY/S3_SECRET_KEY/S3_REGION
#                                    and writes them to STATE_DIR/env
#   scripts/rgw-down.sh STATE_DIR    stops exactly these daemons (by pid file), removes STATE_DIR
#
# Needs the Debian packages radosgw, ceph-mon, ceph-osd (Ceph 16.2), curl and node.
# Env: MEMSTORE_BYTES (OSD RAM cap, default 1 GiB), S3_ACCESS_KEY, S3_SECRET_KEY,
# RGW_STORAGE_CLASS (a second storage class to offer, e.g. STANDARD_IA; see below).
# On any failure the daemons started so far are stopped again.
set -euo pipefail
STATE=$(realpath -m "${1:?usage: rgw-up.sh STATE_DIR}")
HERE=$(dirname "$(realpath "$0")")

free_ports() { # free_ports N: N distinct free loopback ports, one node process
  node -e "
    const net = require('net');
    const servers = Array.from({ length: $1 }, () => net.createServer());
    Promise.all(servers.map((s) => new Promise((ok) => s.listen(0, '127.0.0.1', ok)))).then(() => {
      console.log(servers.map((s) => s.address().port).join(' '));
      servers.forEach((s) => s.close());
    });"
}
wait_for() { # wait_for TRIES SLEEP COMMAND...: retries COMMAND until it succeeds
  local tries=$1 pause=$2; shift 2
  for _ in $(seq 1 "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep "$pause"; done
  echo "rgw-up: timed out waiting for: $*" >&2; return 1
}

read -r MON_V2 MON_V1 RGW_PORT < <(free_ports 3)
[ -n "$RGW_PORT" ] || { echo "rgw-up: could not pick free ports (is node installed?)" >&2; exit 1; }
ACCESS=${S3_ACCESS_KEY:-cairn-test}; SECRET=${S3_SECRET_KEY:-cairn-test-secret}
rm -rf "$STATE"; mkdir -p "$STATE"/{run,log,mon,osd}
trap '"$HERE/rgw-down.sh" "$STATE"' ERR

FSID=$(cat /proc/sys/kernel/random/uuid)
# Settings that matter (found the hard way):
# - ms (mon) client mode = crc: with auth "none" radosgw otherwise never authenticates
#   to the monitor.
# - tcp_nodelay=1 on the beast frontend: without it every GET/LIST takes ~45 ms.
cat > "$STATE/ceph.conf" <<CONF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MON_V2,v1:127.0.0.1:$MON_V1]
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
mon warn on insecure global id reclaim allowed = false
ms mon client mode = crc
ms client mode = crc
run dir = $STATE/run
admin socket = $STATE/run/\$name.asok
log file = $STATE/log/\$name.log
pid file = $STATE/run/\$name.pid
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
[mon]
mon data = $STATE/mon/\$cluster-\$id
# Commit monitor changes every 20 ms instead of every second: creating the pools below
# takes one commit per command.
paxos propose interval = 0.02
[osd]
osd data = $STATE/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = ${MEMSTORE_BYTES:-1073741824}
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw data = $STATE/rgw
rgw dns name = localhost
CONF
CONF_ARG=(-c "$STATE/ceph.conf")

ceph-authtool --create-keyring "$STATE/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_V2,v1:127.0.0.1:$MON_V1]" \
  "$STATE/monmap" >/dev/null
ceph-mon "${CONF_ARG[@]}" --mkfs -i a --monmap "$STATE/monmap" --keyring "$STATE/mon.keyring"
ceph-mon "${CONF_ARG[@]}" -i a
wait_for 150 0.2 ceph "${CONF_ARG[@]}" --connect-timeout 2 mon stat

OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_ID=$(ceph "${CONF_ARG[@]}" osd new "$OSD_UUID")
mkdir -p "$STATE/osd/ceph-$OSD_ID"
echo "$OSD_ID" > "$STATE/osd-id"
ceph-osd "${CONF_ARG[@]}" -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" >/dev/null 2>&1
ceph-osd "${CONF_ARG[@]}" -i "$OSD_ID" 2>/dev/null
osd_up() { ceph "${CONF_ARG[@]}" osd stat 2>/dev/null | grep -q '1 up'; }
wait_for 150 0.2 osd_up

# Create RGW's pools up front: otherwise the first bucket request stalls ~2 s creating them.
# One `ceph` process reads all the commands from stdin (each process costs ~0.4 s).
for pool in .rgw.root default.rgw.control default.rgw.meta default.rgw.log \
  default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec; do
  printf 'osd pool create %s 8 8\nosd pool application enable %s rgw\n' "$pool" "$pool"
done | ceph "${CONF_ARG[@]}" >/dev/null 2>&1

radosgw "${CONF_ARG[@]}" -n client.rgw.a
wait_for 300 0.2 curl -sf -o /dev/null "http://127.0.0.1:$RGW_PORT/"
radosgw-admin "${CONF_ARG[@]}" user create --uid=cairn-test --display-name=cairn-test \
  --access-key="$ACCESS" --secret-key="$SECRET" >/dev/null

# With RGW_STORAGE_CLASS set (test/s3/storage-class.test.ts), a second storage class of
# that name in the default placement (a class the server does not know is InvalidArgument).
# The zone group exists once radosgw has run, and radosgw reads placements when it starts,
# so it is stopped (SIGTERM: it drains its frontend, about 5 s; after a SIGKILL the new
# radosgw answered about three times slower, waiting on what the killed one had left
# registered in the cluster) and started again. Only when asked, for those 5 s.
if [ -n "${RGW_STORAGE_CLASS:-}" ]; then
  radosgw-admin "${CONF_ARG[@]}" zonegroup placement add --rgw-zonegroup default \
    --placement-id default-placement --storage-class "$RGW_STORAGE_CLASS" >/dev/null
  radosgw-admin "${CONF_ARG[@]}" zone placement add --rgw-zone default \
    --placement-id default-placement --storage-class "$RGW_STORAGE_CLASS" \
    --data-pool default.rgw.buckets.data >/dev/null
  RGW_PID=$(cat "$STATE/run/client.rgw.a.pid")
  kill "$RGW_PID"
  # Gone, or a zombie its new parent has not reaped yet (its port is closed either way).
  rgw_gone() {
    [ ! -e "/proc/$RGW_PID" ] || [ "$(awk '{print $3}' "/proc/$RGW_PID/stat" 2>/dev/null)" = Z ]
  }
  wait_for 300 0.2 rgw_gone
  radosgw "${CONF_ARG[@]}" -n client.rgw.a
  wait_for 300 0.2 curl -sf -o /dev/null "http://127.0.0.1:$RGW_PORT/"
fi

printf 'S3_ENDPOINT=http://127.0.0.1:%s\nS3_ACCESS_KEY=%s\nS3_SECRET_KEY=%s\nS3_REGION=us-east-1\n' \
  "$RGW_PORT" "$ACCESS" "$SECRET" | tee "$STATE/env"
