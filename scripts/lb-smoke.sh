#!/bin/bash
# Three cluster nodes behind HAProxy with deploy/haproxy.cfg (docs/cluster.md): a headless
# terminal and the merchant's calls go through the balancer only. A sale, then a reversal whose
# terminal answers slowly; the node holding the terminal gets SIGTERM meanwhile. It drains: the
# reversal is answered with its result, calls sent through the balancer meanwhile all succeed
# (HAProxy stops sending to the node once /readyz answers 503, and retries a call it refused), the
# node exits 0, and the terminal comes back through the balancer on another node, where a sale
# succeeds.
#
# Needs PostgreSQL at 127.0.0.1:5432 (database test, user postgres), psql, curl, jq, a NATS
# server (POSGATE_TEST_NATS, default nats://127.0.0.1:4222) and haproxy (installed with apt-get
# when missing). CI runs it (.ci/run), about 15 s.
#   go build -o posgate ./cmd/posgate && POSGATE_BIN=./posgate bash scripts/lb-smoke.sh
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$(realpath "${POSGATE_BIN:-./posgate}")
command -v haproxy >/dev/null || { apt-get update -qq && apt-get install -y -qq haproxy >/dev/null; } || exit 1
WORK=$(mktemp -d)
cd "$WORK" || exit 1
SCHEMA=lbsmoke_$$
PG=postgres://postgres@127.0.0.1:5432/test
psql -q "$PG" -c "CREATE SCHEMA $SCHEMA" || exit 1
declare -A PID
cleanup() {
  kill "${PID[@]}" 2>/dev/null
  wait 2>/dev/null
  psql -q "$PG" -c "DROP SCHEMA $SCHEMA CASCADE" 2>/dev/null
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in *.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }

export POSGATE_DB="$PG?sslmode=disable&search_path=$SCHEMA"
export POSGATE_MASTER_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
export POSGATE_ADMIN_TOKEN=lb-smoke-admin
export POSGATE_CLUSTER=${POSGATE_TEST_NATS:-nats://127.0.0.1:4222}
LB=http://127.0.0.1:8088
start_node() { # gwN
  local n=${1#gw}
  $B serve --acquirer simulated --addr 127.0.0.1:1808"$n" --node-id "$1" --drain-grace 15s --drain-spread 1s \
    --cluster-heartbeat 500ms --cluster-stale-after 2s > "$1.log" 2>&1 &
  PID[$1]=$!
}
for n in gw1 gw2 gw3; do start_node $n; done
haproxy -db -f "$ROOT/deploy/haproxy.cfg" > haproxy.log 2>&1 &
PID[haproxy]=$!
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$1/readyz")" = 200 ]; }
for _ in $(seq 100); do
  ready http://127.0.0.1:18081 && ready http://127.0.0.1:18082 && ready http://127.0.0.1:18083 && ready $LB && break
  sleep 0.1
done
ready $LB || fail "nodes or balancer not ready"

SECRET=$($B terminals add --merchant Shop --tid T9 | sed -n 's/^secret_key=//p')
[ -n "$SECRET" ] || fail "no terminal secret"
export POSGATE_SECRET=$SECRET
$B terminal --server $LB --tid T9 --headless --card-delay 20ms --result-delay 2s --log-level info > terminal.log 2>&1 &
PID[terminal]=$!
holder() { curl -s -H "Authorization: Bearer $POSGATE_ADMIN_TOKEN" $LB/admin/v1/terminals/T9 | jq -r '.node // ""'; }
for _ in $(seq 100); do [ -n "$(holder)" ] && break; sleep 0.1; done
OLD=$(holder)
[ -n "$OLD" ] || fail "T9 never online"
echo "T9 is on $OLD"

call() { $B call "$@" --server $LB --user T9; }
state() { call v3.QueryOrder trade_id="$1" | jq -r '.data.transaction_info.state'; }
wait_state() { # trade state
  for _ in $(seq 100); do [ "$(state "$1")" = "$2" ] && return 0; sleep 0.1; done
  fail "order $1 never $2 (is $(state "$1"))"
}
sale() {
  call v3.POS pay_method=offline sub_pay_method=point_of_sales operation=1 order_id="2025$(date +%s%N | cut -c1-14)" \
    amount=1.00 currency=EUR description=lb notify_url=https://merchant.example/n | jq -r '.data.trade_id'
}
TRADE=$(sale)
[ -n "$TRADE" ] && [ "$TRADE" != null ] || fail "sale refused"
wait_state "$TRADE" paid

call v3.POSReversal trade_id="$TRADE" > reversal.json 2>&1 &
REV=$!
for _ in $(seq 100); do grep -q 'screen=reversal' terminal.log && break; sleep 0.05; done
grep -q 'screen=reversal' terminal.log || fail "the reversal never reached the terminal"
kill -TERM "${PID[$OLD]}"
DRAIN_START=$(date +%s.%N)
# Calls through the balancer while $OLD drains: none may fail.
for i in $(seq 20); do
  [ "$(state "$TRADE")" != null ] || fail "call $i through the balancer failed during the drain"
  sleep 0.05
done
echo "calls $OLD refused while draining, retried elsewhere by HAProxy: $(grep -c 'code=-1006' "$OLD.log")"
wait $REV || fail "the reversal was not answered with its result: $(cat reversal.json)"
jq -e '.data.state == "cancelled"' reversal.json >/dev/null || fail "reversal: $(cat reversal.json)"
wait "${PID[$OLD]}"
CODE=$?
unset "PID[$OLD]"
[ $CODE = 0 ] || fail "$OLD exited $CODE after SIGTERM"
echo "$OLD drained in $(awk -v a="$DRAIN_START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s, exit 0; the reversal in flight was answered"
grep -q 'the cloud asked to reconnect' terminal.log || fail "the terminal got no reconnect frame"
for _ in $(seq 100); do NEW=$(holder); [ -n "$NEW" ] && [ "$NEW" != "$OLD" ] && break; sleep 0.1; done
[ -n "$NEW" ] && [ "$NEW" != "$OLD" ] || fail "T9 not back on another node"
echo "T9 moved to $NEW"
TRADE2=$(sale)
[ -n "$TRADE2" ] && [ "$TRADE2" != null ] || fail "sale after the drain refused"
wait_state "$TRADE2" paid
echo "PASS: drain behind HAProxy: reversal answered, no failed call, exit 0, terminal on $NEW, new sale paid"
