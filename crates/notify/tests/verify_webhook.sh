#!/bin/sh
# Checks one Rampart webhook delivery with openssl (the shell example of docs/notify.md):
# usage: verify_webhook.sh SECRET X-RAMPART-TIMESTAMP X-RAMPART-SIGNATURE BODY_FILE
secret=$1 ts=$2 sig=$3 body=$4
now=$(date +%s)
[ $((now - ts)) -le 300 ] && [ $((ts - now)) -le 300 ] || { echo "stale timestamp" >&2; exit 1; }
expected="sha256=$({ printf '%s.' "$ts"; cat "$body"; } | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)"
[ "$expected" = "$sig" ] || { echo "bad signature" >&2; exit 1; }
