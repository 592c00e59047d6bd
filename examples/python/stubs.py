"""Python stubs for the glcert protos, generated on first use with Debian's protoc and grpc plugin.

    sudo apt-get install python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc

The stubs go to ./_gen (or $GLCERT_PY_STUBS), keyed by a hash of proto/: a proto change
regenerates them, so they never drift from the server. Nothing here is committed generated code.
"""
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO = ROOT / "proto"
GRPC_PLUGIN = shutil.which("grpc_python_plugin") or "/usr/bin/grpc_python_plugin"


def _proto_files():
    return sorted(p.relative_to(PROTO).as_posix() for p in PROTO.rglob("*.proto"))


def _digest(files):
    h = hashlib.sha256()
    for f in files:
        h.update(f.encode() + b"\0" + (PROTO / f).read_bytes() + b"\0")
    return h.hexdigest()


def load():
    """Generates the stubs when missing or stale and puts them on sys.path."""
    out = Path(os.environ.get("GLCERT_PY_STUBS", Path(__file__).resolve().parent / "_gen"))
    files = _proto_files()
    digest = _digest(files)
    stamp = out / ".proto-sha256"
    if not stamp.exists() or stamp.read_text() != digest:
        protoc = shutil.which("protoc")
        if protoc is None or not os.path.exists(GRPC_PLUGIN):
            sys.exit("stubs: protoc and grpc_python_plugin are needed "
                     "(apt-get install protobuf-compiler protobuf-compiler-grpc)")
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        subprocess.run([protoc, f"-I{PROTO}", f"--python_out={tmp}", f"--grpc_python_out={tmp}",
                        f"--plugin=protoc-gen-grpc_python={GRPC_PLUGIN}", *files], check=True)
        (tmp / ".proto-sha256").write_text(digest)
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    if str(out) not in sys.path:
        sys.path.insert(0, str(out))
