#!/usr/bin/env python3
"""An independent gRPC client (Python grpcio) against a running Payrail edge over TLS.

Stubs are generated from Protos/ at run time with grpc_tools.protoc, so this checks the
published protocol, not our Swift code. Run by Tests/PayrailEndToEndTests/ExternalClientTests.swift.
"""
import argparse
import importlib
import os
import sys
import tempfile

import grpc
from grpc_tools import protoc


def generate(protos, out):
    files = []
    # Only our own protos: grpc/health/v1 would shadow the grpcio package's `grpc` module.
    for folder, _, names in os.walk(os.path.join(protos, "payrail")):
        files += [os.path.relpath(os.path.join(folder, n), protos) for n in names if n.endswith(".proto")]
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    rc = protoc.main(["protoc", f"-I{protos}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}", *files])
    if rc != 0:
        raise SystemExit(f"protoc failed: {rc}")
    sys.path.insert(0, out)


def check(condition, message):
    if not condition:
        raise SystemExit(f"FAILED: {message}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--protos", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--ca", required=True)
    args = parser.parse_args()
    key = os.environ["PAYRAIL_API_KEY"]

    with tempfile.TemporaryDirectory() as out:
        generate(args.protos, out)
        payments_pb2 = importlib.import_module("payrail.v1.payments_pb2")
        payments_grpc = importlib.import_module("payrail.v1.payments_pb2_grpc")
        refunds_pb2 = importlib.import_module("payrail.v1.refunds_pb2")
        refunds_grpc = importlib.import_module("payrail.v1.refunds_pb2_grpc")
        common_pb2 = importlib.import_module("payrail.v1.common_pb2")

        with open(args.ca, "rb") as f:
            credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
        with grpc.secure_channel(args.target, credentials) as channel:
            auth = [("authorization", f"Bearer {key}")]
            # grpc.health.v1.Health/Check, encoded by hand: field 1 (service) = "payrail.v1.Payments".
            service = b"payrail.v1.Payments"
            check_health = channel.unary_unary("/grpc.health.v1.Health/Check")
            health = check_health(b"\x0a" + bytes([len(service)]) + service, timeout=10)
            check(health == b"\x08\x01", f"health is SERVING: {health!r}")

            payments = payments_grpc.PaymentsStub(channel)
            request = payments_pb2.CreatePaymentRequest(
                idempotency_key="py-1",
                amount=common_pb2.Money(amount_minor=2500, currency="EUR"),
                capture_method=payments_pb2.CAPTURE_METHOD_MANUAL,
                card=common_pb2.CardDetails(number="4242424242424242", exp_month=12, exp_year=2034, cvc="123"),
                metadata={"order": "py-1"},
            )
            created = payments.CreatePayment(request, metadata=auth, timeout=10)
            check(created.status == payments_pb2.PAYMENT_STATUS_REQUIRES_CAPTURE, f"created: {created.status}")
            check(created.card.last4 == "4242" and "4242424242424242" not in str(created), "card is masked")
            again = payments.CreatePayment(request, metadata=auth, timeout=10)
            check(again.id == created.id, "idempotent retry returns the same payment")

            captured = payments.CapturePayment(payments_pb2.CapturePaymentRequest(
                idempotency_key="py-1-capture", payment_id=created.id, amount_minor=2000), metadata=auth, timeout=10)
            check(captured.status == payments_pb2.PAYMENT_STATUS_SUCCEEDED and captured.amount_captured_minor == 2000, "captured")
            refund = refunds_grpc.RefundsStub(channel).CreateRefund(refunds_pb2.CreateRefundRequest(
                idempotency_key="py-1-refund", payment_id=created.id, amount_minor=500), metadata=auth, timeout=10)
            check(refund.status == refunds_pb2.REFUND_STATUS_SUCCEEDED, "refunded")
            fetched = payments.GetPayment(payments_pb2.GetPaymentRequest(payment_id=created.id), metadata=auth, timeout=10)
            check(fetched.amount_refunded_minor == 500, "refund shows on the payment")

            declined = payments.CreatePayment(payments_pb2.CreatePaymentRequest(
                idempotency_key="py-2", amount=common_pb2.Money(amount_minor=100, currency="USD"),
                card=common_pb2.CardDetails(number="4000000000009995", exp_month=1, exp_year=2035, cvc="999")), metadata=auth, timeout=10)
            check(declined.status == payments_pb2.PAYMENT_STATUS_FAILED and declined.failure.decline_code == "insufficient_funds", "decline code")

            try:
                payments.CreatePayment(payments_pb2.CreatePaymentRequest(
                    idempotency_key="py-3", amount=common_pb2.Money(amount_minor=100, currency="ABC"),
                    card=common_pb2.CardDetails(number="4242424242424242", exp_month=1, exp_year=2035)), metadata=auth, timeout=10)
                check(False, "unknown currency must fail")
            except grpc.RpcError as error:
                trailers = dict(error.trailing_metadata() or ())
                check(error.code() == grpc.StatusCode.INVALID_ARGUMENT, f"status {error.code()}")
                check(trailers.get("payrail-error-reason") == "invalid_currency", f"reason {trailers}")
                check("grpc-status-details-bin" in trailers, "google.rpc.Status details present")

            try:
                payments.GetPayment(payments_pb2.GetPaymentRequest(payment_id=created.id), metadata=[("authorization", "Bearer sk_test_nope")], timeout=10)
                check(False, "bad key must fail")
            except grpc.RpcError as error:
                check(error.code() == grpc.StatusCode.UNAUTHENTICATED, f"status {error.code()}")
    print("external client: all checks passed")


if __name__ == "__main__":
    main()
