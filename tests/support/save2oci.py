#!/usr/bin/env python3
"""Convert a `docker save` archive (legacy format: manifest.json, <id>.json, <id>/layer.tar)
into an OCI image archive (oci-layout, index.json, blobs/sha256/...) with gzip layers.

    save2oci.py SAVE.tar OUT.tar [--dir] [--ref NAME]

Every image in manifest.json becomes one entry of index.json, annotated with
org.opencontainers.image.ref.name (its first RepoTag, or --ref when there is one image).
Layer digests are of the gzip blobs; diff_ids (sha256 of the uncompressed tars) are checked
against the image config. With --dir, OUT is written as an OCI layout directory instead.

Standard library only; Python 3.6+.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile

# The archive writer is shared with mkbase.py (same directory, so importable as a script).
from mkbase import write_oci_archive



def die(msg):
    sys.stderr.write("save2oci: error: %s\n" % msg)
    sys.exit(2)


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def read_member(tar, name):
    try:
        fh = tar.extractfile(name)
    except KeyError:
        die("%s is missing from the archive" % name)
    if fh is None:
        die("%s is not a regular file" % name)
    return fh.read()


def convert(save_path, ref_override=None):
    """Returns (blobs: digest -> bytes, index bytes)."""
    try:
        tar = tarfile.open(save_path, "r:*")
    except (tarfile.TarError, OSError) as exc:
        die("cannot read %s: %s" % (save_path, exc))
    with tar:
        manifest = json.loads(read_member(tar, "manifest.json"))
        if ref_override and len(manifest) != 1:
            die("--ref needs an archive with exactly one image")
        blobs = {}
        entries = []
        gz_cache = {}
        for image in manifest:
            cfg_bytes = read_member(tar, image["Config"])
            cfg = json.loads(cfg_bytes)
            diff_ids = cfg.get("rootfs", {}).get("diff_ids", [])
            if len(diff_ids) != len(image["Layers"]):
                die("%s: %d layers but %d diff_ids" % (image["Config"], len(image["Layers"]),
                                                        len(diff_ids)))
            layers = []
            for layer_name, diff_id in zip(image["Layers"], diff_ids):
                if layer_name not in gz_cache:
                    raw = read_member(tar, layer_name)
                    if sha256(raw) != diff_id:
                        die("%s: sha256 %s does not match diff_id %s" % (layer_name, sha256(raw),
                                                                          diff_id))
                    buf = io.BytesIO()
                    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=1) as gz:
                        gz.write(raw)
                    data = buf.getvalue()
                    digest = sha256(data)
                    blobs[digest] = data
                    gz_cache[layer_name] = (digest, len(data))
                digest, size = gz_cache[layer_name]
                layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                               "digest": digest, "size": size})
            cfg_digest = sha256(cfg_bytes)
            blobs[cfg_digest] = cfg_bytes
            man = json.dumps({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": cfg_digest, "size": len(cfg_bytes)},
                "layers": layers,
            }, sort_keys=True).encode()
            man_digest = sha256(man)
            blobs[man_digest] = man
            desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": man_digest, "size": len(man),
                    "platform": {"architecture": cfg.get("architecture", "amd64"),
                                 "os": cfg.get("os", "linux")}}
            tags = image.get("RepoTags") or []
            ref = ref_override or (tags[0] if tags else None)
            if ref:
                desc["annotations"] = {"org.opencontainers.image.ref.name": ref}
            entries.append(desc)
    index = json.dumps({"schemaVersion": 2,
                        "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": entries}, sort_keys=True).encode()
    return blobs, index


def write_dir(out, blobs, index):
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(os.path.join(out, "blobs", "sha256"))
    with open(os.path.join(out, "oci-layout"), "wb") as fh:
        fh.write(b'{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(out, "index.json"), "wb") as fh:
        fh.write(index)
    for digest, data in blobs.items():
        with open(os.path.join(out, "blobs", "sha256", digest.split(":", 1)[1]), "wb") as fh:
            fh.write(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("save")
    ap.add_argument("out")
    ap.add_argument("--dir", action="store_true", help="write an OCI layout directory")
    ap.add_argument("--ref", default=None, help="ref.name annotation (single-image archives)")
    args = ap.parse_args()
    blobs, index = convert(args.save, args.ref)
    if args.dir:
        write_dir(args.out, blobs, index)
    else:
        write_oci_archive(args.out, blobs, index)


if __name__ == "__main__":
    main()
