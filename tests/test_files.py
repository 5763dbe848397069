"""minidocker._files: the package's one atomic writer and one hashing reader."""
import hashlib
import io
import os
import stat

import pytest

from minidocker import _files


def test_replaces_whole_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "state.json"
    _files.write_json_atomically(path, {"status": "created"})
    _files.write_atomically(path, b"second", sync_dir=True)
    assert path.read_bytes() == b"second"
    assert os.listdir(tmp_path) == ["state.json"]


def test_a_failed_write_leaves_the_old_file_and_nothing_else(tmp_path):
    path = tmp_path / "target"
    path.mkdir()                                   # rename(file, directory) fails: EISDIR
    with pytest.raises(IsADirectoryError):
        _files.write_atomically(path, "data")
    assert path.is_dir() and os.listdir(tmp_path) == ["target"]


def test_mode_of_a_new_file(tmp_path):
    path = tmp_path / "credentials.json"
    _files.write_atomically(path, "{}", mode=0o600)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_json_is_indented_for_people_by_default(tmp_path):
    path = tmp_path / "record.json"
    _files.write_json_atomically(path, {"b": 1, "a": 2}, sort_keys=True)
    assert path.read_text() == '{\n "a": 2,\n "b": 1\n}'


def test_hashing_reader_and_sha256_of_agree_with_hashlib():
    data = os.urandom(3 * _files.CHUNK + 17)
    reader = _files.HashingReader(io.BytesIO(data))
    assert reader.read(5) == data[:5]
    assert reader.drain() == "sha256:" + hashlib.sha256(data).hexdigest()
    running = _files.sha256_of(io.BytesIO(data))
    running.update(b"more")                        # a hashlib object: uploads go on hashing
    assert running.hexdigest() == hashlib.sha256(data + b"more").hexdigest()

