#!/usr/bin/env python3
"""Verify a glcert certificate offline, from its DSSE envelope and the public key alone.

    python3 verify_certificate.py cert.json --public-key signing.pem.pub.pem

Needs only the standard library and `cryptography` (Debian: python3-cryptography): no glcert
code, no stubs, no server. Checks, in order (docs/certificate.md):
  1. the Ed25519 signature over PAE(payloadType, payload), on the payload bytes as received;
  2. only then parses the payload (the certificate as JSON);
  3. recomputes the Clopper-Pearson lower bound from (na, n, alpha) and the verdict
     (CERTIFIED iff pa_lower > max(threshold, 1/2)). The threshold is taken as given: solving
     it again needs the bound solver (glcert verify --recompute-threshold, or the verifier).
     A sequential certificate is tested at its look's level (`sequential.level`), also taken
     as given here.
Exit 0 valid, 1 invalid. CERT may be `glcert certify --out` JSON or a bare DSSE envelope.
"""
import argparse
import base64
import hashlib
import json
import math
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_der_public_key, load_pem_public_key

PAYLOAD_TYPE = "application/vnd.glcert.certificate+json; version=2"


def pae(payload_type: bytes, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding."""
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type, len(payload), payload)


def key_id(key) -> str:
    spki = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return "ed25519:" + hashlib.sha256(spki).hexdigest()[:16]


def _betacf(a, b, x):
    """Continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return h


def reg_inc_beta(a, b, x):
    """I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(ln_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(ln_front) * _betacf(b, a, 1.0 - x) / b


def clopper_pearson_lower(na: int, n: int, alpha: float) -> float:
    """One-sided lower bound at level alpha: the alpha quantile of Beta(na, n - na + 1)."""
    if na == 0:
        return 0.0
    if na == n:
        return alpha ** (1.0 / n)
    lo, hi = 0.0, 1.0
    for _ in range(200):  # bisection down to adjacent doubles
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if reg_inc_beta(na, n - na + 1, mid) < alpha:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def load_keys(paths):
    keys = {}
    for p in paths:
        data = open(p, "rb").read()
        key = load_pem_public_key(data) if data.lstrip().startswith(b"-----") else load_der_public_key(data)
        if not isinstance(key, Ed25519PublicKey):
            sys.exit(f"{p}: not an Ed25519 public key")
        keys[key_id(key)] = key
    return keys


def verify(doc: dict, keys: dict, tolerance: float = 1e-9):
    """Returns (certificate or None, reasons); no reasons means valid."""
    env = doc.get("dsseEnvelope", doc)
    if "payload" not in env or "signatures" not in env:
        return None, ["no DSSE envelope (a version-1 certificate: check it with glcert verify)"]
    if env.get("payloadType") != PAYLOAD_TYPE:
        return None, [f"payloadType is {env.get('payloadType')!r}, expected {PAYLOAD_TYPE!r}"]
    payload = base64.b64decode(env["payload"])
    message = pae(env["payloadType"].encode("utf-8"), payload)
    signed_by = None
    for s in env["signatures"]:
        key = keys.get(s.get("keyid", ""))
        if key is None:
            continue
        try:
            key.verify(base64.b64decode(s["sig"]), message)
            signed_by = s["keyid"]
            break
        except InvalidSignature:
            pass
    if signed_by is None:
        known = ", ".join(keys) or "none"
        return None, [f"signature: no signature verifies with a trusted key (keyids {[s.get('keyid') for s in env['signatures']]}, trusted {known})"]

    cert = json.loads(payload)  # only now: parse exactly the bytes that were signed
    reasons = []
    if cert.get("certificateVersion") != 2:
        reasons.append(f"certificateVersion is {cert.get('certificateVersion')}, expected 2")
    n, na, alpha = int(cert.get("n", 0)), int(cert.get("na", 0)), float(cert.get("alpha", 0))
    pa_lower, threshold = float(cert.get("paLower", 0)), float(cert.get("threshold", 0))
    if not (n >= 1 and 0 <= na <= n and 0 < alpha < 1):
        reasons.append(f"counts out of range: na={na}, n={n}, alpha={alpha}")
        return cert, reasons
    # sequential sampling (ALGORITHM.md section 9): the test at the look where sampling stopped
    # is at that look's level alpha_k <= alpha, taken as given here like the threshold (the
    # schedule is a pure function of max(threshold, 1/2), alpha and n_max; glcert verify checks it)
    level = alpha
    seq = cert.get("sequential")
    if seq is not None:
        level = float(seq.get("level", 0))
        if not 0 < level <= alpha:
            reasons.append(f"sequential.level: {level} is not in (0, alpha={alpha}]")
            return cert, reasons
    recomputed = clopper_pearson_lower(na, n, level)
    if abs(recomputed - pa_lower) > tolerance * max(1.0, abs(recomputed)):
        reasons.append(f"paLower: certificate says {pa_lower}, Clopper-Pearson of (na={na}, n={n}, level={level}) is {recomputed}")
    certified = recomputed > max(threshold, 0.5)
    expected = "OUTCOME_CERTIFIED" if certified else "OUTCOME_ABSTAINED"
    if cert.get("outcome") != expected:
        reasons.append(f"outcome: certificate says {cert.get('outcome')}, the verdict rule gives {expected}")
    cert["_recomputedPaLower"] = recomputed
    cert["_level"] = level
    cert["_signedBy"] = signed_by
    return cert, reasons


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("certificate", help="cert.json (glcert certify --out, certify_image.py --out) or a DSSE envelope")
    ap.add_argument("--public-key", action="append", required=True, help="Ed25519 public key, PEM or DER (repeatable)")
    ap.add_argument("--json", action="store_true", help="print {valid, reasons, ...} as JSON")
    args = ap.parse_args()
    doc = json.load(open(args.certificate))
    cert, reasons = verify(doc, load_keys(args.public_key))
    valid = cert is not None and not reasons
    if args.json:
        print(json.dumps({"valid": valid, "reasons": reasons,
                          "outcome": cert.get("outcome") if cert else None,
                          "recomputedPaLower": cert.get("_recomputedPaLower") if cert else None,
                          "keyId": cert.get("_signedBy") if cert else None}))
    else:
        print(f"{'valid' if valid else 'INVALID'}: {args.certificate}")
        if cert:
            print(f"  signed by      {cert['_signedBy']}")
            print(f"  outcome        {cert.get('outcome')}, class {cert.get('predictedClass', 0)}")
            if "_recomputedPaLower" in cert:
                print(f"  pA lower bound {cert.get('paLower')} (recomputed {cert['_recomputedPaLower']} at level {cert['_level']})")
            print(f"  threshold      {cert.get('threshold')} (taken as given)")
        for r in reasons:
            print(f"  reason: {r}")
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
