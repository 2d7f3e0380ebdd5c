#!/usr/bin/env bash
# Drives h2load (nghttp2) at a Payrail edge or at `payrail echo` with one real gRPC request:
# encodes it with `protoc --encode`, frames it for gRPC, runs h2load, then checks grpc-status.
# h2load counts any HTTP 200 as a success, and a gRPC error is an HTTP 200 with a non-zero
# grpc-status trailer, so this script checks correctness itself: a preflight request and a few
# samples with `nghttp -v` must end with grpc-status 0, and h2load's received body bytes must
# add up to one full response per request (error responses carry no body).
# See README.md next to this file.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: loadtest/h2load/run.sh --target HOST:PORT --call echo|get|create-replay [options]

  --target HOST:PORT     edge (payrail dev) or payrail echo address (TLS, h2)
  --call CALL            echo          /payrail.loadtest.v1.Echo/Echo, 160-byte payload
                         get           /payrail.v1.Payments/GetPayment (needs --api-key)
                         create-replay /payrail.v1.Payments/CreatePayment, one fixed body and
                                       idempotency key: every request is a replay of the first
  --api-key KEY          sent as `authorization: Bearer KEY`
  --payment-id ID        payment for `get` (default: create one first)
  -n REQUESTS            total requests (default 100000; ignored with --duration)
  -c CLIENTS             connections (default 8)
  -m STREAMS             concurrent streams per connection (default 32)
  -t THREADS             h2load threads (default 1)
  --duration SECONDS     run for a time instead of -n requests
  --samples N            grpc-status samples after the run (default 5)
EOF
}

die() { echo "run.sh: $*" >&2; exit 1; }

target="" call="" api_key="" payment_id="" duration=""
requests=100000 clients=8 streams=32 threads=1 samples=5
while [[ $# -gt 0 ]]; do
  case "$1" in
    --target) target="${2:?}"; shift 2 ;;
    --call) call="${2:?}"; shift 2 ;;
    --api-key) api_key="${2:?}"; shift 2 ;;
    --payment-id) payment_id="${2:?}"; shift 2 ;;
    -n) requests="${2:?}"; shift 2 ;;
    -c) clients="${2:?}"; shift 2 ;;
    -m) streams="${2:?}"; shift 2 ;;
    -t) threads="${2:?}"; shift 2 ;;
    --duration) duration="${2:?}"; shift 2 ;;
    --samples) samples="${2:?}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ -n "$target" ]] || { usage >&2; die "--target is required"; }
for v in requests clients streams threads samples; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
[[ -z "$duration" || "$duration" =~ ^[1-9][0-9]*$ ]] || die "--duration must be whole seconds"
[[ -z "$payment_id" || "$payment_id" =~ ^[A-Za-z0-9_-]+$ ]] || die "--payment-id has unexpected characters"
case "$call" in
  echo) ;;
  get|create-replay) [[ -n "$api_key" ]] || die "--call $call needs --api-key" ;;
  *) usage >&2; die "--call must be echo, get or create-replay" ;;
esac

protos="$(cd "$(dirname "$0")/../../Protos" && pwd)" || die "Protos not found next to the script"

# Tools: Debian packages nghttp2-client (h2load, nghttp) and protobuf-compiler (protoc).
missing=()
command -v h2load >/dev/null && command -v nghttp >/dev/null || missing+=(nghttp2-client)
command -v protoc >/dev/null || missing+=(protobuf-compiler)
if [[ ${#missing[@]} -gt 0 ]]; then
  [[ $(id -u) -eq 0 ]] || die "missing ${missing[*]}; install them (apt-get install ${missing[*]}) or run as root"
  echo "installing ${missing[*]} ..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
    die "apt-get install ${missing[*]} failed"
  for tool in h2load nghttp protoc; do command -v "$tool" >/dev/null || die "$tool not found after installing"; done
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/payrail-h2load.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# encode TYPE PROTO_FILE OUT: text format on stdin -> gRPC length-prefixed message in OUT
# (1 byte compressed flag 0, 4-byte big-endian length, the message).
encode() {
  protoc --encode="$1" -I "$protos" "$2" > "$tmp/message.bin" || die "protoc --encode=$1 failed"
  local len; len=$(stat -c %s "$tmp/message.bin")
  { printf '\x00'
    printf "\\x$(printf %02x $((len >> 24 & 255)))\\x$(printf %02x $((len >> 16 & 255)))"
    printf "\\x$(printf %02x $((len >> 8 & 255)))\\x$(printf %02x $((len & 255)))"
    cat "$tmp/message.bin"; } > "$3"
}

headers=(-H "content-type: application/grpc" -H "te: trailers")
[[ -n "$api_key" ]] && headers+=(-H "authorization: Bearer $api_key")

# grpc_call PATH FRAMED: one request with `nghttp -nv`; sets status, message, reason, body_bytes.
pct_decode() { printf '%b' "${1//%/\\x}"; }
grpc_call() {
  local out rc=0
  out=$(nghttp -nv -t 30 "${headers[@]}" -d "$2" "https://$target$1" 2>&1) || rc=$?
  status=$(sed -n 's/.*recv (stream_id=[0-9]*) grpc-status: \([0-9]*\).*/\1/p' <<<"$out" | tail -1)
  message=$(pct_decode "$(sed -n 's/.*recv (stream_id=[0-9]*) grpc-message: //p' <<<"$out" | tail -1)")
  reason=$(sed -n 's/.*recv (stream_id=[0-9]*) payrail-error-reason: //p' <<<"$out" | tail -1)
  body_bytes=$(sed -n 's/.*recv DATA frame <length=\([0-9]*\).*/\1/p' <<<"$out" | awk '{s += $1} END {print s + 0}')
  if [[ -z "$status" ]]; then
    echo "no grpc-status from https://$target$1 (nghttp exit $rc):" >&2
    grep -E 'recv \(stream_id=[0-9]+\) :status|ERROR|error|refused|GOAWAY' <<<"$out" | head -5 >&2 || true
    status="none (no gRPC response)"
  fi
}
check_ok() { # check_ok WHAT
  [[ "$status" == "0" ]] && return 0
  echo "FAIL $1: grpc-status $status${message:+ grpc-message \"$message\"}${reason:+ payrail-error-reason $reason}" >&2
  exit 1
}

stamp="$(date +%s)-$$"
create_text() {
  cat <<EOF
idempotency_key: "$1"
amount { amount_minor: 1999 currency: "USD" }
capture_method: CAPTURE_METHOD_AUTOMATIC
card { number: "4242424242424242" exp_month: 12 exp_year: 2034 cvc: "123" }
description: "h2load"
EOF
}

case "$call" in
  echo)
    path=/payrail.loadtest.v1.Echo/Echo
    # The same 160 bytes as `payrail load`'s echo operation: byte i = i*31 mod 256.
    payload=""; for ((i = 0; i < 160; i++)); do payload+=$(printf '\\%03o' $((i * 31 & 255))); done
    printf 'payload: "%s"\n' "$payload" |
      encode payrail.loadtest.v1.EchoRequest payrail/loadtest/v1/echo.proto "$tmp/request.bin"
    ;;
  get)
    path=/payrail.v1.Payments/GetPayment
    if [[ -z "$payment_id" ]]; then
      create_text "h2load-get-$stamp" |
        encode payrail.v1.CreatePaymentRequest payrail/v1/payments.proto "$tmp/create.bin"
      grpc_call /payrail.v1.Payments/CreatePayment "$tmp/create.bin"
      check_ok "CreatePayment (payment for get)"
      # Same key and body again: an idempotent replay that returns the payment's bytes.
      nghttp -t 30 "${headers[@]}" -d "$tmp/create.bin" "https://$target/payrail.v1.Payments/CreatePayment" \
        > "$tmp/create-response.bin" 2>/dev/null || die "nghttp CreatePayment replay failed"
      [[ "$(head -c 1 "$tmp/create-response.bin" | od -An -tu1 | tr -d ' ')" == "0" ]] ||
        die "CreatePayment response is empty or compressed"
      payment_id=$(tail -c +6 "$tmp/create-response.bin" |
        protoc --decode=payrail.v1.Payment -I "$protos" payrail/v1/payments.proto |
        sed -n 's/^id: "\([A-Za-z0-9_-]*\)"$/\1/p')
      [[ -n "$payment_id" ]] || die "no payment id in the CreatePayment response"
      echo "created payment $payment_id for GetPayment"
    fi
    printf 'payment_id: "%s"\n' "$payment_id" |
      encode payrail.v1.GetPaymentRequest payrail/v1/payments.proto "$tmp/request.bin"
    ;;
  create-replay)
    path=/payrail.v1.Payments/CreatePayment
    create_text "h2load-replay-$stamp" |
      encode payrail.v1.CreatePaymentRequest payrail/v1/payments.proto "$tmp/request.bin"
    echo "NOTE create-replay: every request carries idempotency key h2load-replay-$stamp and the same body;"
    echo "     the preflight creates the payment, so the run measures the idempotent replay path, not new payments."
    ;;
esac

# Preflight: fail fast on a wrong key, path or target; learn the size of a good response body.
grpc_call "$path" "$tmp/request.bin"
check_ok "preflight $path"
response_body=$body_bytes
echo "preflight: grpc-status 0, response body $response_body bytes, request $(stat -c %s "$tmp/request.bin") bytes (framed)"

h2args=(-c "$clients" -m "$streams" -t "$threads" "${headers[@]}" -d "$tmp/request.bin")
if [[ -n "$duration" ]]; then h2args+=(-D "$duration"); else h2args+=(-n "$requests"); fi
shown=("${h2args[@]}"); shown=("${shown[@]//Bearer */Bearer ***}")
echo "+ h2load $(printf '%q ' "${shown[@]}")https://$target$path"
rc=0
h2out=$(h2load "${h2args[@]}" "https://$target$path" 2>&1) || rc=$?
grep -v '^progress:' <<<"$h2out"
[[ $rc -eq 0 ]] || die "h2load exited with $rc"
grep -q '^Application protocol: h2' <<<"$h2out" || die "h2 was not negotiated"

field() { sed -n "s/^requests: .* \([0-9]*\) $1.*/\1/p" <<<"$h2out" | head -1; }
reqps=$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$h2out")
started=$(field started); done_n=$(field done); succeeded=$(field succeeded); failed=$(field failed)
errored=$(field errored); timed_out=$(field timeout)
data_bytes=$(sed -n 's/^traffic: .* (\([0-9]*\)) data.*/\1/p' <<<"$h2out")
[[ -n "$reqps" && -n "$done_n" && -n "$data_bytes" ]] || die "could not parse h2load's summary"
echo
echo "req/s: $reqps"
grep '^status codes:' <<<"$h2out"

[[ "$succeeded" -gt 0 && "$failed" -eq 0 && "$errored" -eq 0 && "$timed_out" -eq 0 ]] ||
  die "h2load: $succeeded succeeded, $failed failed, $errored errored, $timed_out timeout"
# A gRPC error is HTTP 200 without a body (trailers only), so h2load counts it as succeeded.
# Every good response here is the same size, so the body bytes tell how many were good.
# (With --duration, streams still in flight at the end may add bytes: started >= done.)
if [[ $data_bytes -lt $((succeeded * response_body)) || $data_bytes -gt $((started * response_body)) ]]; then
  echo "FAIL h2load received $data_bytes response body bytes, expected $succeeded x $response_body:" \
       "about $((succeeded - data_bytes / response_body)) of $succeeded responses h2load counted as" \
       "succeeded were gRPC errors without a body (rate_limited? check with nghttp -v)" >&2
  exit 1
fi
echo "bodies: $succeeded x $response_body bytes received, as expected (no body-less gRPC errors)"

ok=0
for ((i = 1; i <= samples; i++)); do
  grpc_call "$path" "$tmp/request.bin"
  check_ok "sample $i/$samples $path"
  ok=$((ok + 1))
done

reqps_int=$(printf '%.0f' "$reqps" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta')
[[ "$call" == create-replay ]] && echo "NOTE create-replay measured idempotent replays of one payment, not new payments."
echo "h2load $call: $reqps_int req/s over $done_n requests, grpc-status 0 on $ok/$samples samples" \
     "($clients connections x $streams streams)"
