"""handmodel.safe_pickle: MANO-like pickles load exactly; pickles that try to run code never do.

The chumpy objects are made by a fake `chumpy` module that exists only while the pickle is
written, so loading proves that chumpy is never imported.
"""
import builtins
import copyreg
import functools
import io
import os
import pickle
import subprocess
import sys
import types

import numpy as np
import pytest
import scipy.sparse

from maskhand.errors import InputFileError, ModelFileError, UnsafePickleError
from maskhand.handmodel.safe_pickle import ChumpyStub, load_mano_dict, load_pickle, to_array

V, S = 40, 10  # a small MANO-like mesh: shapes are checked, sizes are not


@pytest.fixture
def fake_chumpy(monkeypatch):
    """Modules chumpy, chumpy.ch (class Ch) and chumpy.ch_ops (class add) in sys.modules for now."""
    chumpy = types.ModuleType("chumpy")
    ch = types.ModuleType("chumpy.ch")
    ch_ops = types.ModuleType("chumpy.ch_ops")

    class Ch:
        def __init__(self, x):
            self.x = x

    class add(Ch):  # noqa: N801 - chumpy's own spelling
        def __init__(self, a, b):
            self.a, self.b = a, b

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    add.__module__, add.__qualname__ = "chumpy.ch_ops", "add"
    ch.Ch, ch_ops.add, chumpy.ch, chumpy.ch_ops = Ch, add, ch, ch_ops
    for name, mod in (("chumpy", chumpy), ("chumpy.ch", ch), ("chumpy.ch_ops", ch_ops)):
        monkeypatch.setitem(sys.modules, name, mod)
    return types.SimpleNamespace(Ch=Ch, add=add)


def mano_like(rng, Ch=None) -> dict:
    """A dict with MANO_RIGHT.pkl's keys and shapes (V vertices); shapedirs wrapped in Ch if given."""
    J_dense = np.zeros((16, V))
    J_dense[np.arange(16), rng.choice(V, 16, replace=False)] = rng.random(16)
    shapedirs = rng.normal(size=(V, 3, S))
    return {
        "v_template": rng.normal(size=(V, 3)),
        "f": rng.integers(0, V, size=(70, 3)).astype(np.uint32),
        "weights": rng.random((V, 16)),
        "J_regressor": scipy.sparse.csc_matrix(J_dense),
        "kintree_table": np.stack([np.r_[4294967295, np.zeros(15)], np.arange(16)]).astype(np.int64),
        "shapedirs": Ch(shapedirs) if Ch else shapedirs,
        "posedirs": rng.normal(size=(V, 3, 135)),
        "hands_components": rng.normal(size=(45, 45)),
        "hands_mean": rng.normal(size=45),
        "hands_coeffs": rng.normal(size=(3, 45)),
        "J": rng.normal(size=(16, 3)),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }


def write_without_chumpy(tmp_path, monkeypatch, obj, protocol=2, name="MANO_RIGHT.pkl"):
    """Pickle `obj` while the fake chumpy exists, then remove it so loading cannot import it."""
    path = tmp_path / name
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    for mod in ("chumpy", "chumpy.ch", "chumpy.ch_ops"):
        monkeypatch.delitem(sys.modules, mod, raising=False)
    return path


@pytest.mark.parametrize("protocol", [0, 1, 2, 4, 5])
def test_mano_like_pickle_round_trips_exactly(tmp_path, monkeypatch, fake_chumpy, protocol):
    ref = mano_like(np.random.default_rng(protocol))
    data = dict(ref, shapedirs=fake_chumpy.Ch(ref["shapedirs"]))
    path = write_without_chumpy(tmp_path, monkeypatch, data, protocol)

    raw = load_pickle(path)
    assert "chumpy" not in sys.modules
    assert isinstance(raw["shapedirs"], ChumpyStub) and raw["shapedirs"].pickled_class == "chumpy.ch.Ch"
    np.testing.assert_array_equal(to_array(raw["shapedirs"]), ref["shapedirs"])

    out = load_mano_dict(path)
    assert set(out) == set(ref)
    J = out["J_regressor"]
    assert isinstance(J, np.ndarray) and J.shape == (16, V)  # dense: Blender's Python has no scipy
    np.testing.assert_array_equal(J, ref["J_regressor"].toarray())
    for key, value in ref.items():
        if isinstance(value, np.ndarray):
            assert out[key].dtype == value.dtype, key
            np.testing.assert_array_equal(out[key], value, err_msg=key)
        elif key != "J_regressor":
            assert out[key] == value, key


@pytest.mark.parametrize("old_module", [b"scipy.sparse.csc", b"scipy.sparse._csc"])
def test_old_scipy_module_paths_load(tmp_path, old_module):
    """MANO's files name scipy.sparse.csc.csc_matrix (pre-1.8 scipy); newer pickles name _csc."""
    J = scipy.sparse.csc_matrix(np.arange(48.0).reshape(16, 3) % 5)
    raw = pickle.dumps({"J": J}, protocol=2)
    assert b"scipy.sparse._csc\n" in raw
    path = tmp_path / "old.pkl"
    path.write_bytes(raw.replace(b"scipy.sparse._csc\n", old_module + b"\n"))
    out = load_pickle(path)["J"]
    np.testing.assert_array_equal(out, J.toarray())


def test_csr_matrix_and_chumpy_op_load(tmp_path, monkeypatch, fake_chumpy):
    csr = scipy.sparse.csr_matrix(np.eye(4)[:, ::-1])
    a, b = fake_chumpy.Ch(np.ones(3)), fake_chumpy.Ch(np.arange(3.0))
    path = write_without_chumpy(tmp_path, monkeypatch, {"csr": csr, "op": fake_chumpy.add(a, b)})
    out = load_pickle(path)
    np.testing.assert_array_equal(out["csr"], csr.toarray())
    op = out["op"]
    assert op.pickled_class == "chumpy.ch_ops.add"
    np.testing.assert_array_equal(to_array(op.state["b"]), np.arange(3.0))
    with pytest.raises(ModelFileError, match="chumpy.ch_ops.add"):
        to_array(op)  # an op's value is computed by chumpy; its state holds no array of its own


def test_our_own_export_loads(tmp_path):
    """The open hand exported in MANO layout (handmodel.export_pkl) reads back through the safe loader."""
    from maskhand.handmodel.export_pkl import export_mano_pkl, mano_dict
    from maskhand.handmodel.open_hand import load_open_hand

    model = load_open_hand("right")
    path = export_mano_pkl(model, tmp_path / "OPEN_RIGHT.pkl")
    out, ref = load_mano_dict(path), mano_dict(model)
    np.testing.assert_array_equal(out["v_template"], ref["v_template"])
    np.testing.assert_array_equal(out["J_regressor"], ref["J_regressor"].toarray())
    np.testing.assert_array_equal(out["maskhand_tip_vertices"], ref["maskhand_tip_vertices"])


# ---------------------------------------------------------------------------------------------
# Hostile pickles: each __reduce__ would run something if pickle.load were used.
# ---------------------------------------------------------------------------------------------

class Reduce:
    def __init__(self, *reduce_value):
        self.reduce_value = reduce_value

    def __reduce__(self):
        return self.reduce_value


def hostile_cases(marker):
    touch = f"touch {marker}"
    code = f"open({str(marker)!r}, 'w').close()"
    return {
        "os.system": (Reduce(os.system, (touch,)), "system"),
        "builtins.exec": (Reduce(builtins.exec, (code,)), r"(builtins|__builtin__)\.exec"),
        "builtins.eval": (Reduce(builtins.eval, (code,)), r"(builtins|__builtin__)\.eval"),
        "subprocess.Popen": (Reduce(subprocess.Popen, (["touch", str(marker)],)), r"(subprocess|commands)\.Popen"),
        "getattr": (Reduce(getattr, ("text", "upper")), r"(builtins|__builtin__)\.getattr"),
        "functools.partial": (Reduce(functools.partial, (os.system, touch)), "functools.partial"),
        "nested in a MANO dict": ({"v_template": np.zeros((3, 3)), "f": [Reduce(os.system, (touch,))]},
                                  "system"),
        "ndarray _reconstruct of another class": (
            Reduce(np.core.multiarray._reconstruct, (dict, (0,), b"b")), "numpy.ndarray"),
        "copyreg._reconstructor of a refused class": (
            Reduce(copyreg._reconstructor, (subprocess.Popen, object, None)), r"(subprocess|commands)\.Popen"),
    }


@pytest.mark.parametrize("case", list(hostile_cases("m")))
@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_hostile_pickle_is_refused_and_runs_nothing(tmp_path, case, protocol):
    marker = tmp_path / "pwned"
    obj, refused = hostile_cases(marker)[case]
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    with pytest.raises(UnsafePickleError, match=refused) as info:
        load_pickle(path)
    assert str(path) in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("cut", [1, 10, 0.5, -1])
def test_truncated_pickle_raises_model_file_error(tmp_path, cut):
    raw = pickle.dumps(mano_like(np.random.default_rng(0)), protocol=2)
    n = int(len(raw) * cut) if isinstance(cut, float) else cut
    path = tmp_path / "MANO_RIGHT.pkl"
    path.write_bytes(raw[:n])
    with pytest.raises(ModelFileError, match="MANO_RIGHT.pkl") as info:
        load_pickle(path)
    assert type(info.value) is ModelFileError


def test_garbage_raises_model_file_error(tmp_path):
    path = tmp_path / "noise.pkl"
    path.write_bytes(np.random.default_rng(1).bytes(4000))
    with pytest.raises(ModelFileError, match="noise.pkl"):
        load_pickle(path)


def test_missing_file_raises_input_file_error(tmp_path):
    with pytest.raises(InputFileError, match="MANO_LEFT.pkl"):
        load_pickle(tmp_path / "MANO_LEFT.pkl")
    with pytest.raises(InputFileError, match="MANO_LEFT.pkl"):
        load_mano_dict(tmp_path / "MANO_LEFT.pkl")


@pytest.mark.parametrize("change, message", [
    ({"weights": None}, "'weights'"),
    ({"J_regressor": None, "posedirs": None}, "'J_regressor', 'posedirs'"),
    ({"weights": np.zeros((V, 15))}, r"'weights' must have shape \(V, 16\)"),
    ({"v_template": np.zeros((V + 1, 3))}, r"'weights' must have shape \(V, 16\)"),
    ({"J_regressor": scipy.sparse.csc_matrix((16, V + 2))}, "'J_regressor'"),
    ({"kintree_table": np.zeros((2, 21))}, "'kintree_table'"),
    ({"shapedirs": np.zeros((V, 10))}, r"'shapedirs' must have shape \(V, 3, S\)"),
    ({"posedirs": np.zeros((V, 3, 10))}, "'posedirs'"),
])
def test_mano_dict_with_missing_or_misshapen_key(tmp_path, change, message):
    data = mano_like(np.random.default_rng(2))
    for key, value in change.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    path = tmp_path / "MANO_RIGHT.pkl"
    path.write_bytes(pickle.dumps(data, protocol=2))
    with pytest.raises(ModelFileError, match=message):
        load_mano_dict(path)


def test_mano_dict_must_be_a_dict(tmp_path):
    path = tmp_path / "list.pkl"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(ModelFileError, match="holds a dict; got list"):
        load_mano_dict(path)


def test_plain_values_round_trip():
    """Builtin containers and numpy scalars/dtypes pass; bytes pickled by Python 3 under protocol 2 too."""
    from maskhand.handmodel.safe_pickle import load_pickle_from

    obj = {"t": (1, 2.5, "x"), "s": {1, 2}, "fs": frozenset({"a"}), "b": b"\x00\xff", "ba": bytearray(b"ab"),
           "c": 1 + 2j, "n": None, "np": np.float32(1.5), "i": np.int64(7), "dt": np.dtype("<f4"),
           "obj": np.array([{"k": 1}, None], dtype=object)}
    for protocol in range(0, 6):
        out = load_pickle_from(io.BytesIO(pickle.dumps(obj, protocol=protocol)), "mem")
        assert {k: v for k, v in out.items() if k != "obj"} == {k: v for k, v in obj.items() if k != "obj"}
        assert out["obj"].tolist() == obj["obj"].tolist()


def py2_array_opcodes(arr: np.ndarray) -> bytes:
    """The opcodes Python 2's cPickle wrote for a float64 ndarray (protocol 2, no PROTO/STOP)."""
    data = arr.astype("<f8").tobytes()
    return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R"
            b"(K\x01" + b"".join(b"K" + bytes([n]) for n in arr.shape) + bytes([0x84 + arr.ndim])
            + b"cnumpy\ndtype\nU\x02f8K\x00K\x01\x87R(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
            b"\x89T" + len(data).to_bytes(4, "little") + data + b"tb")


def test_python2_pickle_with_chumpy_loads(tmp_path):
    """Byte-for-byte what Python 2 wrote for {'shapedirs': Ch(x=array)}: str as BINSTRING, NEWOBJ."""
    x = np.random.default_rng(3).normal(size=(4, 3, 2))
    raw = (b"\x80\x02}(U\tshapedirscchumpy.ch\nCh\n)\x81}U\x01x" + py2_array_opcodes(x.reshape(-1)) + b"sbu.")
    path = tmp_path / "py2.pkl"
    path.write_bytes(raw)
    out = load_pickle(path)
    np.testing.assert_array_equal(to_array(out["shapedirs"]), x.reshape(-1))
