#!/bin/bash
# Cluster smoke test with the built binary (docs/cluster.md): two `posgate serve` nodes on one
# PostgreSQL schema and the NATS server at 127.0.0.1:4222, a headless terminal on node a, a sale
# and a reversal called on node b. Needs psql, PostgreSQL at 127.0.0.1:5432 (database test) and
# nats-server running.
#   go build -o posgate ./cmd/posgate && POSGATE_BIN=./posgate bash scripts/cluster-smoke.sh
set -u
B=$(realpath "${POSGATE_BIN:-./posgate}")
cd "$(mktemp -d)"
SCHEMA=smoke_$$
psql -q 'postgres://postgres@127.0.0.1:5432/test' -c "CREATE SCHEMA $SCHEMA" || exit 1
trap 'kill $PA $PB $PT 2>/dev/null; wait 2>/dev/null; psql -q postgres://postgres@127.0.0.1:5432/test -c "DROP SCHEMA '$SCHEMA' CASCADE" 2>/dev/null' EXIT
export POSGATE_DB="postgres://postgres@127.0.0.1:5432/test?sslmode=disable&search_path=$SCHEMA"
export POSGATE_MASTER_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
export POSGATE_ADMIN_TOKEN=smoke-admin
export POSGATE_CLUSTER=nats://127.0.0.1:4222
$B serve --acquirer simulated --addr 127.0.0.1:18081 --node-id a --log-level warn > a.log 2>&1 & PA=$!
$B serve --acquirer simulated --addr 127.0.0.1:18082 --node-id b --log-level warn > b.log 2>&1 & PB=$!
sleep 2
SECRET=$($B terminals add --merchant Shop --tid T9 | sed -n 's/^secret_key=//p')
POSGATE_SECRET=$SECRET $B terminal --server http://127.0.0.1:18081 --tid T9 --headless --card-delay 50ms > t.log 2>&1 & PT=$!
sleep 1.5
export POSGATE_SECRET=$SECRET
OUT=$($B call v3.POS --server http://127.0.0.1:18082 --user T9 pay_method=offline sub_pay_method=point_of_sales operation=1 order_id=202500000000000001 amount=1.00 currency=EUR description=smoke notify_url=https://merchant.example/n)
echo "$OUT" | grep -E '"(status|code|state)"'
TRADE=$(echo "$OUT" | sed -n 's/.*"trade_id": "\([^"]*\)".*/\1/p' | head -1)
sleep 1
$B call v3.QueryOrder --server http://127.0.0.1:18081 --user T9 trade_id=$TRADE | grep '"state"'
REV=$($B call v3.POSReversal --server http://127.0.0.1:18082 --user T9 trade_id=$TRADE)
echo "$REV" | grep -E '"(status|code|state)"'
echo "--- terminal"; cat t.log; echo
echo "$REV" | grep -q '"state": "cancelled"' && echo "PASS: sale and reversal on node b, terminal on node a" || { echo FAIL; exit 1; }
