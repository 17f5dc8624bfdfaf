"""One Euro filter (Casiez, Roussel, Vogel, CHI 2012): a low-pass whose cutoff rises with speed.

Why this filter: tracked hands jitter most when they hold still, and lag matters most when they move.
The One Euro filter smooths hard at low speed (cutoff `min_cutoff`) and opens up as the filtered
speed grows (cutoff = min_cutoff + beta * speed), so slow jitter goes away without fast motion lagging.

Legend: T samples (frames), G independent groups, D values per group (a quaternion: D=4). The speed
that opens the cutoff is the norm of a group's derivative, so all D values of a group share one
cutoff (a quaternion's four components are filtered alike and stay a rotation after renormalising).
Rotations go through quaternions (w, x, y, z): made sign-continuous along time, filtered, renormalised.

Strength: `params_for_strength(s)`, s in [0, 1], the one number the user sees:
    s = 0     -> no filtering (the input comes back unchanged);
    s > 0     -> min_cutoff = 10 Hz * 0.05**s (10 Hz .. 0.5 Hz; 2.24 Hz at the default 0.5),
                 beta = 1.0 * 0.1**s (1.0 .. 0.1 per unit/s of speed), d_cutoff = 1 Hz.
Lag bound: after a step (with beta = 0, the slowest case) the output is within 1/e of the new value
after at most `step_lag_frames(min_cutoff, rate)` = ceil(rate * tau) + 1 samples, tau = 1/(2 pi min_cutoff);
a positive beta only shortens it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import MaskHandError
from ..handmodel.rotations import axis_angle_to_matrix, matrix_to_quaternion, quaternion_to_axis_angle

# The strength -> parameter map (see the module docstring); constants with their reason:
MAX_MIN_CUTOFF_HZ = 10.0   # at strength -> 0: only jitter above ~10 Hz is damped (a hand barely moves that fast)
MIN_CUTOFF_RATIO = 0.05    # at strength 1: 0.5 Hz, a hand held still looks frozen
MAX_BETA = 1.0             # per (unit / s); rotations move ~1-10 rad/s, so fast turns lift the cutoff by Hz
BETA_RATIO = 0.1
D_CUTOFF_HZ = 1.0          # the speed estimate itself is smoothed at 1 Hz, as the paper recommends


@dataclass(frozen=True)
class OneEuroParams:
    """min_cutoff and d_cutoff in Hz (> 0), beta in 1 / (unit of the signal per second) (>= 0)."""
    min_cutoff: float
    beta: float
    d_cutoff: float = D_CUTOFF_HZ

    def __post_init__(self):
        if not (math.isfinite(self.min_cutoff) and self.min_cutoff > 0):
            raise MaskHandError(f"min_cutoff must be a positive number of Hz; got {self.min_cutoff!r}")
        if not (math.isfinite(self.beta) and self.beta >= 0):
            raise MaskHandError(f"beta must be a number >= 0; got {self.beta!r}")
        if not (math.isfinite(self.d_cutoff) and self.d_cutoff > 0):
            raise MaskHandError(f"d_cutoff must be a positive number of Hz; got {self.d_cutoff!r}")


def params_for_strength(strength: float) -> OneEuroParams | None:
    """The filter for a smoothing strength in [0, 1]; None at 0 (no filtering)."""
    s = float(strength)
    if not (math.isfinite(s) and 0.0 <= s <= 1.0):
        raise MaskHandError(f"smoothing strength must be between 0 and 1; got {strength!r}")
    if s == 0.0:
        return None
    return OneEuroParams(min_cutoff=MAX_MIN_CUTOFF_HZ * MIN_CUTOFF_RATIO ** s, beta=MAX_BETA * BETA_RATIO ** s)


def step_lag_frames(min_cutoff: float, rate: float) -> int:
    """Samples after a step until the output is within 1/e of it, at most (beta = 0, constant rate).

    The smoothing factor is a = 1 / (1 + r), r = rate * tau; the remaining error after n samples is
    (r / (1 + r))**n <= exp(-n / (r + 1)), which is <= 1/e once n >= r + 1.
    """
    tau = 1.0 / (2.0 * math.pi * min_cutoff)
    return math.ceil(rate * tau) + 1


def _alpha(cutoff, dt):
    """Smoothing factor of a first-order low-pass with `cutoff` Hz over a step of `dt` seconds."""
    tau = 1.0 / (2.0 * np.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """A streaming One Euro filter over (G, D) values: call it once per sample, in time order."""

    def __init__(self, params: OneEuroParams):
        self.params = params
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next sample passes through unchanged (used after a gap)."""
        self._x = self._dx = self._t = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """x (G, D) at time t seconds (strictly after the previous sample's) -> filtered (G, D)."""
        x = np.asarray(x, np.float64)
        if self._x is None:
            self._x, self._dx, self._t = x.copy(), np.zeros(x.shape[:-1] + (1,)), float(t)
            return x.copy()
        dt = float(t) - self._t
        if not dt > 0:
            raise MaskHandError(f"samples must be in increasing time; got t={t} after t={self._t}")
        p = self.params
        speed = np.linalg.norm(x - self._x, axis=-1, keepdims=True) / dt  # (G, 1) unit / s
        self._dx = self._dx + _alpha(p.d_cutoff, dt) * (speed - self._dx)
        cutoff = p.min_cutoff + p.beta * self._dx  # (G, 1) Hz
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        self._t = float(t)
        return self._x.copy()


def one_euro(x: np.ndarray, times: np.ndarray, params: OneEuroParams | None) -> np.ndarray:
    """Filter a whole track.

    Args:
        x: (T, G, D) values; groups share nothing, a group's D values share one cutoff.
        times: (T,) seconds, strictly increasing (uneven steps are fine: a frame can be missing).
        params: the filter; None returns a copy of x (strength 0).
    Returns:
        (T, G, D) float64.
    """
    x = np.asarray(x, np.float64)
    times = np.asarray(times, np.float64)
    if x.ndim != 3 or times.shape != (x.shape[0],):
        raise MaskHandError(f"expected x (T, G, D) and times (T,); got {x.shape} and {times.shape}")
    if params is None:
        return x.copy()
    filt = OneEuroFilter(params)
    return np.stack([filt(x[t], times[t]) for t in range(len(x))]) if len(x) else x.copy()


def sign_continuous(quats: np.ndarray) -> np.ndarray:
    """(T, G, 4) -> (T, G, 4): q_t becomes -q_t where it points away from q_{t-1} (after earlier
    flips), so averaging neighbours never passes through zero; the rotations are unchanged."""
    quats = np.asarray(quats, np.float64)
    if len(quats) < 2:
        return quats.copy()
    dots = np.einsum("tgk,tgk->tg", quats[1:], quats[:-1])  # (T-1, G)
    signs = np.concatenate([np.ones((1, quats.shape[1])), np.cumprod(np.where(dots < 0, -1.0, 1.0), axis=0)])
    return quats * signs[..., None]


def one_euro_rotations(axis_angle: np.ndarray, times: np.ndarray, params: OneEuroParams | None) -> np.ndarray:
    """Filter rotations: (T, G, 3) axis-angle -> (T, G, 3) axis-angle (angle in [0, pi]).

    Through unit quaternions made sign-continuous, so a rotation near 180 degrees whose axis-angle
    jumps from +pi to -pi is filtered as the small step it is, never as a full turn.
    """
    aa = np.asarray(axis_angle, np.float64)
    if params is None:
        return aa.copy()
    q = sign_continuous(matrix_to_quaternion(axis_angle_to_matrix(aa)))  # (T, G, 4)
    q = one_euro(q, times, params)
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    return quaternion_to_axis_angle(q)
