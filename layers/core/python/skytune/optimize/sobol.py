"""Scrambled Sobol points, computed for any index range so a stateless caller can continue
a sequence from where the history ends.

Hand-written because scipy (``scipy.stats.qmc``) is too large for the Lambda layer and takes
~0.9 s to import. Point ``i`` in dimension ``j`` is the XOR of the direction numbers ``V[j, b]``
for the set bits ``b`` of ``i`` (natural order, not Gray-code order: the first ``2^k`` points
are the same set either way). Scrambling is Matousek's linear matrix scramble plus a digital
shift, as in scipy: ``V'[j, b] = L_j V[j, b]`` over GF(2) with ``L_j`` random unit lower
triangular, and every point XOR-ed with a random shift ``e_j``.
"""

from __future__ import annotations

import numpy as np

from skytune.optimize._sobol_directions import INITIAL_DIRECTION_NUMBERS, POLYNOMIALS

BITS = 30
MAX_DIMENSION = len(POLYNOMIALS)


def _direction_numbers(dimension: int) -> np.ndarray:
    """``V[j, b]`` as BITS-bit integers, shape (dimension, BITS), Bratley & Fox recurrence:

    m_k = 2 a_1 m_{k-1} ^ 4 a_2 m_{k-2} ^ ... ^ 2^s m_{k-s} ^ m_{k-s},  V_k = m_k 2^(BITS-k).
    """
    v = np.zeros((dimension, BITS), dtype=np.int64)
    for j in range(dimension):
        poly = POLYNOMIALS[j]
        degree = poly.bit_length() - 1
        m = [1] * BITS if degree == 0 else list(INITIAL_DIRECTION_NUMBERS[j][:degree])
        for k in range(len(m), BITS):
            new = m[k - degree] ^ (m[k - degree] << degree)
            for t in range(1, degree):
                if (poly >> (degree - t)) & 1:
                    new ^= m[k - t] << t
            m.append(new)
        v[j] = [m[k] << (BITS - 1 - k) for k in range(BITS)]
    return v


def _scramble(v: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    dimension = v.shape[0]
    # bits[j, b, r]: bit r (0 = most significant) of V[j, b]
    shifts = np.arange(BITS - 1, -1, -1)
    bits = (v[:, :, None] >> shifts[None, None, :]) & 1
    lower = np.tril(rng.integers(0, 2, size=(dimension, BITS, BITS)), k=-1)
    lower[:, np.arange(BITS), np.arange(BITS)] = 1
    scrambled_bits = np.einsum("jrc,jbc->jbr", lower, bits) % 2
    scrambled = (scrambled_bits << shifts[None, None, :]).sum(axis=2)
    shift = rng.integers(0, 2**BITS, size=dimension, dtype=np.int64)
    return scrambled, shift


def sobol(start: int, count: int, dimension: int, seed: int | None = 0) -> np.ndarray:
    """Points ``start .. start+count-1`` of a Sobol sequence in ``[0, 1)^dimension``.

    ``seed=None`` gives the unscrambled sequence (point 0 is the origin); any integer seed a
    scrambled one, identical for identical seeds.
    """
    if not 1 <= dimension <= MAX_DIMENSION:
        raise ValueError(f"Sobol dimension must be in 1..{MAX_DIMENSION}, not {dimension}")
    v = _direction_numbers(dimension)
    shift = np.zeros(dimension, dtype=np.int64)
    if seed is not None:
        v, shift = _scramble(v, np.random.default_rng([seed, 0x50B01]))
    index = np.arange(start, start + count, dtype=np.int64)
    out = np.broadcast_to(shift, (count, dimension)).copy()
    for b in range(BITS):
        has_bit = ((index >> b) & 1).astype(bool)
        out[has_bit] ^= v[:, b]
    return out / float(2**BITS)
