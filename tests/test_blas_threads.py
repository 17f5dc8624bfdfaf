"""inference/blas_threads.py: a CPU Pipeline runs numpy's OpenBLAS on one thread while it is open
(its second thread spins during the refinement and takes a core from the next photo's detection)
and gives the count back when closed."""
import numpy as np
import pytest

from maskhand.inference.blas_threads import blas_threads, set_blas_threads

pytestmark = pytest.mark.skipif(blas_threads() is None, reason="numpy here does not use OpenBLAS")


@pytest.fixture
def two_blas_threads():
    before = set_blas_threads(2)
    yield
    set_blas_threads(before)


def test_the_count_set_is_the_count_openblas_reports(two_blas_threads):
    assert blas_threads() == 2
    assert set_blas_threads(1) == 2 and blas_threads() == 1
    a = np.random.default_rng(0).normal(size=(300, 300))
    np.testing.assert_allclose(a @ np.linalg.inv(a), np.eye(300), atol=1e-8)  # still computes on one thread


def test_a_cpu_pipeline_uses_one_blas_thread_until_closed(two_blas_threads):
    from maskhand.inference.pipeline import Pipeline

    with Pipeline(estimator="mediapipe"):
        assert blas_threads() == 1
    assert blas_threads() == 2
