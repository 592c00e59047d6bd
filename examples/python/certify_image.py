#!/usr/bin/env python3
"""Certify one image through the certifier, and save the signed certificate as JSON.

    python3 certify_image.py digit.png --model mnist-cnn --preset brightness --out cert.json

Uses the generated stubs only (stubs.py). n0, n and alpha are left at 0: the server's defaults
(200, 1000, 0.001). Exit 0 whether CERTIFIED or ABSTAINED, 1 on an RPC error.
"""
import argparse
import sys

import grpc

import stubs

stubs.load()
from google.protobuf import json_format  # noqa: E402
from glcert.certify.v1 import certify_pb2, certify_pb2_grpc  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image", help="PNG, JPEG or WebP file")
    ap.add_argument("--addr", default="127.0.0.1:50051", help="certifier address (default %(default)s)")
    ap.add_argument("--model", default="mnist-cnn")
    ap.add_argument("--preset", default="brightness", help="a name from ListPresets")
    ap.add_argument("--seed", type=int, help="sampling seed (default: the server draws one)")
    ap.add_argument("--n", type=int, default=0, help="estimation samples (0: server default)")
    ap.add_argument("--out", help="write the certificate there (proto3 JSON, with its DSSE envelope)")
    args = ap.parse_args()

    with grpc.insecure_channel(args.addr) as channel:
        stub = certify_pb2_grpc.CertificationServiceStub(channel)
        presets = stub.ListPresets(certify_pb2.ListPresetsRequest(), timeout=10)
        names = [p.name for p in presets.presets]
        if args.preset not in names:
            sys.exit(f"unknown preset {args.preset!r}; the server has: {', '.join(names)}")
        request = certify_pb2.CertifyRequest(model=args.model, image=open(args.image, "rb").read(),
                                             preset=args.preset, n=args.n)
        if args.seed is not None:
            request.seed = args.seed
        try:
            response = stub.Certify(request, timeout=300)
        except grpc.RpcError as e:
            print(f"certify: {e.code().name}: {e.details()}", file=sys.stderr)
            return 1
    c = response.certificate
    outcome = certify_pb2.Outcome.Name(c.outcome).replace("OUTCOME_", "")
    print(f"{outcome}: class {c.predicted_class}, pA >= {c.pa_lower:.6f}, threshold {c.threshold:.6f} "
          f"(n0 {c.n0}, n {c.n}, alpha {c.alpha}, seed {c.seed}, key {c.key_id})")
    for note in response.notes:
        print(f"  note: {note}")
    if args.out:
        with open(args.out, "w") as f:
            f.write(json_format.MessageToJson(c) + "\n")
        print(f"certificate written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
