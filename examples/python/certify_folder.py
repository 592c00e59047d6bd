#!/usr/bin/env python3
"""Certify every image of a folder over one StreamingCertify stream, with progress.

    python3 certify_folder.py DIGITS/ --model mnist-cnn --preset brightness --base-seed 7 --out results.jsonl

Items are the folder's PNG/JPEG/WebP files (ids = file names; labels from labels.csv when there).
Answers come in any order, each with an in-band status: a bad image is reported and the rest go
on. With --base-seed, every certificate's seed is checked against the documented derivation
(docs/certificate.md). Exit 0 when every item got an answer (and seeds match), else 1.
"""
import argparse
import csv
import hashlib
import json
import sys
from pathlib import Path

import grpc

import stubs

stubs.load()
from google.protobuf import json_format  # noqa: E402
from glcert.certify.v1 import certify_pb2, certify_pb2_grpc  # noqa: E402

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}


def derive_item_seed(base_seed: int, item_id: str) -> int:
    """The seed of a stream item without its own: docs/certificate.md, 'Seeds and reproducibility'."""
    digest = hashlib.sha256(b"glcert.stream-item-seed.v1\0%d\0" % base_seed + item_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--addr", default="127.0.0.1:50051", help="certifier address (default %(default)s)")
    ap.add_argument("--model", default="mnist-cnn")
    ap.add_argument("--preset", default="brightness")
    ap.add_argument("--base-seed", type=int, help="derive each item's seed from it (reproducible reruns)")
    ap.add_argument("--n0", type=int, default=0, help="selection samples (0: server default)")
    ap.add_argument("--n", type=int, default=0, help="estimation samples (0: server default)")
    ap.add_argument("--out", help="JSON Lines of {id, label, code, message, certificate}")
    args = ap.parse_args()

    folder = Path(args.folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    labels = {}
    if (folder / "labels.csv").exists():
        with open(folder / "labels.csv") as f:
            labels = {row["file"]: int(row["label"]) for row in csv.DictReader(f)}

    config = certify_pb2.StreamingCertifyConfig(model=args.model, preset=args.preset, n0=args.n0, n=args.n)
    if args.base_seed is not None:
        config.base_seed = args.base_seed

    def requests():
        yield certify_pb2.StreamingCertifyRequest(config=config)
        for p in files:
            item = certify_pb2.CertifyItem(id=p.name, image=p.read_bytes())
            if p.name in labels:
                item.label = labels[p.name]
            yield certify_pb2.StreamingCertifyRequest(item=item)

    counts = {"CERTIFIED": 0, "ABSTAINED": 0, "error": 0}
    correct = 0
    seed_mismatches = []
    seen = set()
    out = open(args.out, "w") if args.out else None
    with grpc.insecure_channel(args.addr) as channel:
        stub = certify_pb2_grpc.CertificationServiceStub(channel)
        try:
            for r in stub.StreamingCertify(requests(), timeout=600):
                seen.add(r.id)
                if r.status.code != 0:
                    counts["error"] += 1
                    verdict = f"error {r.status.code}: {r.status.message[:120]}"
                else:
                    c = r.certificate
                    outcome = certify_pb2.Outcome.Name(c.outcome).replace("OUTCOME_", "")
                    counts[outcome] += 1
                    if outcome == "CERTIFIED" and r.HasField("label") and r.label == c.predicted_class:
                        correct += 1
                    verdict = f"{outcome} class {c.predicted_class} pA >= {c.pa_lower:.4f}"
                    if args.base_seed is not None and c.seed != derive_item_seed(args.base_seed, r.id):
                        seed_mismatches.append(r.id)
                print(f"[{len(seen)}/{len(files)}] {r.id}: {verdict}", flush=True)
                if out:
                    row = {"id": r.id, "label": r.label if r.HasField("label") else None,
                           "code": r.status.code, "message": r.status.message,
                           "certificate": json_format.MessageToDict(r.certificate) if r.HasField("certificate") else None}
                    out.write(json.dumps(row) + "\n")
        except grpc.RpcError as e:
            print(f"stream failed: {e.code().name}: {e.details()}", file=sys.stderr)
            return 1
        finally:
            if out:
                out.close()
    print(f"{len(files)} images: {counts['CERTIFIED']} certified ({correct} with the right label), "
          f"{counts['ABSTAINED']} abstained, {counts['error']} errors")
    if seed_mismatches:
        print(f"seed differs from the documented derivation for: {', '.join(seed_mismatches)}", file=sys.stderr)
    missing = [p.name for p in files if p.name not in seen]
    if missing:
        print(f"no answer for: {', '.join(missing)}", file=sys.stderr)
    return 1 if seed_mismatches or missing else 0


if __name__ == "__main__":
    sys.exit(main())
