import numpy as np

from skytune.optimize.sobol import sobol

# First points of the unscrambled Joe-Kuo sequence (as scipy.stats.qmc.Sobol gives them).
EXPECTED_3D = np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.25, 0.75, 0.75],
                        [0.75, 0.25, 0.25]])


def test_unscrambled_sequence_matches_reference_points():
    assert np.allclose(sobol(0, 4, 3, seed=None), EXPECTED_3D)


def test_each_dimension_is_stratified_over_a_power_of_two():
    points = sobol(0, 64, 20, seed=3)
    for j in range(20):
        counts = np.bincount((points[:, j] * 64).astype(int), minlength=64)
        assert np.all(counts == 1)


def test_continuation_equals_one_long_draw_and_seeds_differ():
    whole = sobol(0, 40, 5, seed=7)
    assert np.array_equal(np.vstack([sobol(0, 17, 5, seed=7), sobol(17, 23, 5, seed=7)]), whole)
    assert not np.allclose(sobol(0, 40, 5, seed=8), whole)
    assert np.all((whole >= 0) & (whole < 1))
