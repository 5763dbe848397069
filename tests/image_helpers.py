"""Helpers shared by the image tests: tiny rootfs tarballs, and snapshots of a store on disk."""
import hashlib, io, os, tarfile
from pathlib import Path


def rootfs_tar(path, files=None, message="hello"):
    """A small rootfs tarball: a few directories and the given {name: text} files."""
    files = files or {"etc/motd": message, "bin/hello": "#!/bin/sh\necho hello\n"}
    with tarfile.open(path, "w") as tar:
        for d in sorted({str(Path(n).parent) for n in files}):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return Path(path)


def snapshot(state):
    """{relative path: sha256 or 'dir'} of an image store, ignoring the lock file and tmp/."""
    root = Path(state) / "image"
    found = {}
    for dirpath, dirs, files in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        if rel.parts[:1] == ("tmp",):
            continue
        for name in files:
            if str(rel / name) == ".lock":
                continue
            path = Path(dirpath) / name
            found[str(rel / name)] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else "special"
        for name in dirs:
            found[str(rel / name)] = "dir"
    return found


def commit(base, upper_dir, ref=None, changes=(), created_by="", comment="", store=None):
    """A child image, as `docker commit` would make one: image `base` plus the directory
    `upper_dir` (an overlay upper directory, whiteouts and all) packed as one more layer, with
    `base` recorded as its parent. minidocker has no commit verb: tests and chapters stack
    images with this, through the store's public API. Returns the new image ID."""
    import json
    from minidocker.image import oci, reference
    from minidocker.image.store import Store, chain_ids, digest_of
    from minidocker.storage.layers import pack_layer
    store = store or Store()
    target = reference.parse_tag_target(ref) if ref else None
    with store.writing():
        base_id = store.resolve(base)
        config, manifest = json.loads(store.read_blob(base_id)), store.manifest(base_id)
        work = store.tempdir()
        with open(work / "layer", "wb") as out:
            digests = pack_layer(str(upper_dir), out, gzip=True)
        with open(work / "layer", "rb") as f:
            digest, size = store.put_blob_stream(f, digests.digest)
        diff_ids = config["rootfs"]["diff_ids"] + [digests.diff_id]
        store.add_layer(digest, digests.diff_id, chain_ids(diff_ids)[-2] if len(diff_ids) > 1 else None)
        config["rootfs"]["diff_ids"] = diff_ids
        config["created"] = oci.rfc3339()
        config["config"] = oci.apply_changes(dict(config.get("config") or {}), changes)
        config.setdefault("history", []).append({"created": config["created"], "created_by": created_by,
                                                 **({"comment": comment} if comment else {})})
        config_bytes = json.dumps(config, separators=(",", ":")).encode()
        layers = manifest["layers"] + [{"mediaType": oci.LAYER_GZIP, "digest": digest, "size": size}]
        new_manifest = oci.make_manifest(oci.descriptor(oci.CONFIG, config_bytes, digest_of(config_bytes)), layers)
        image_id = store.commit_image(config_bytes, new_manifest, parent=base_id)
        if target:
            store.tag(target, image_id)
        return image_id


def store_problems(store=None, deep=False):
    """What makes an image store inconsistent (an empty list if nothing): tags to missing images,
    records whose manifest, blobs or layers are missing or do not match. `deep` re-hashes every
    layer blob. The tests' invariant after crashes and races; no verb needs it."""
    from minidocker.image.store import Store, StoreError, chain_ids, digest_of
    store = store or Store()
    problems = []
    with store.lock(exclusive=False):
        try:
            refs = store.references()
        except ValueError as error:
            return [f"repositories.json is not valid JSON: {error}"]
        problems += [f"{ref} points to a missing image {i}" for ref, i in refs.items() if not store.has_image(i)]
        for image_id in store.image_ids():
            try:
                record = store.image_record(image_id)
                config, manifest = store.config(image_id), store.manifest(image_id)
            except (StoreError, ValueError, KeyError) as error:
                problems.append(f"image {image_id}: {error}")
                continue
            if manifest["config"]["digest"] != image_id:
                problems.append(f"image {image_id}: its manifest {record['manifest']} names another config")
            for layer in manifest.get("layers", []):
                path = store.blob_path(layer["digest"])
                if not path.is_file() or path.stat().st_size != layer["size"]:
                    problems.append(f"image {image_id}: layer blob {layer['digest']} is missing or truncated")
                elif deep and digest_of(path.read_bytes()) != layer["digest"]:
                    problems.append(f"image {image_id}: layer blob {layer['digest']} is corrupt")
            diff_ids, parent = config["rootfs"]["diff_ids"], None
            for diff_id, chain_id in zip(diff_ids, chain_ids(diff_ids)):
                try:
                    info = store.layer_info(chain_id)
                    if info["diff_id"] != diff_id or info["parent"] != parent or not (store.layer_dir(chain_id) / "diff").is_dir():
                        problems.append(f"image {image_id}: layer {chain_id} does not match its record")
                except (StoreError, ValueError, KeyError) as error:
                    problems.append(f"image {image_id}: {error}")
                parent = chain_id
    return problems
