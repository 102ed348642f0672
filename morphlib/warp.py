"""Correspondences between two pictures and the smooth warps that carry one's geometry onto the other's.

A link A -> B with pairs of points (a_i in A, b_i in B; [0, 1] picture coordinates, x right, y down, pixel centres)
puts pair i at (1 - t) a_i + t b_i in frame t. Frame point p shows net A at W_{t->A}(p) and net B at W_{t->B}(p):
maps from frame t onto each picture, a similarity (least squares) plus a thin-plate spline through the pairs,
smoothed until neither map folds. Pairs come from a user (a JSON file, saved per link beside the nets), are
matched between the two nets' pictures (SIFT, AKAZE and ORB features, a RANSAC similarity, then dense DIS flow;
OpenCV, imported here only), or carry one picture's mass onto the other's (optimal transport; POT, imported here
only)."""
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.interpolate import RBFInterpolator

from . import checks
from .errors import MorphError
from .files import atomic_path
from .images import resize
from .net import Net
from .render import render
from .threads import one_blas_thread

WARPS = {  # --warp: where a link's correspondences come from
    "auto": "the link's saved points if it has some, else features matched between the two nets' pictures (where "
            "nothing matches, the two pictures are blended where they are)",
    "points": "the link's saved points (or --points FILE); a link without any is refused",
    "shapes": "the link's saved points if it has some, else shapes carried onto shapes: optimal transport of "
              "each picture's mass (its colours' distance from its background) onto the other's",
    "none": "no warp, no blend: every weight slides from net A to net B (morphlib before warps)",
}
WARP = "auto"  # chosen by bench.morph (README, "Morphs that move")
POINTS_DIR = "points"  # W-<H>/points/<a>-<b>.json: a link's pairs [[xa, ya, xb, yb], ...]
MAX_POINTS = 5000
GRID = 65  # the spline is evaluated on GRID x GRID nodes over the frame and interpolated between them
SMOOTHING = {"points": 1e-6, "auto": 1e-3, "shapes": 1e-3}  # the thin-plate spline's, by where pairs come from
MIN_JACOBIAN = 0.05  # a map whose Jacobian determinant falls below this (of the identity's 1) counts as folding
MATCH_SIDE = 384  # the nets are rendered this big (longer side) to match features
MIN_INLIERS, MIN_SHARE = 12, 0.3  # fewer matched features than this (or this share of the candidates): no match
MAX_FEATURES = 300  # matched features kept (evenly through the list): each frame's spline solves for every pair
FLOW_GRID = 24  # dense flow is sampled on FLOW_GRID x FLOW_GRID points of the overlap
FLOW_ERROR = 0.01  # ... kept where going there and back misses by less than this (picture widths)
SHAPE_CELLS, SHAPE_PAIRS = 32, 300  # shapes: pictures as 32 x 32 cells of mass; the 300 heaviest of A's paired


def check_points(data, where="points") -> np.ndarray:
    """Pairs [[xa, ya, xb, yb], ...] as a float32 (N, 4) array, each in [0, 1]; anything else is refused."""
    try:
        pts = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        pts = None
    if pts is not None and pts.size == 0 and isinstance(data, (list, tuple, np.ndarray)):
        raise MorphError(f"{where}: the list of pairs is empty: give at least one pair [xa, ya, xb, yb], or "
                         "use --warp none")
    if pts is None or pts.ndim != 2 or pts.shape[1:] != (4,):
        raise MorphError(f"{where}: expected a list of pairs [[xa, ya, xb, yb], ...] (four numbers each: the "
                         "point in A, then its partner in B, in [0, 1] picture coordinates)")
    if len(pts) > MAX_POINTS:
        raise MorphError(f"{where}: {len(pts):,} pairs, more than {MAX_POINTS:,}: give fewer")
    bad = np.flatnonzero(~np.all(np.isfinite(pts), axis=1))
    if len(bad):
        raise MorphError(f"{where}: pair {bad[0] + 1} holds a value that is not a number ({pts[bad[0]].tolist()})")
    bad = np.flatnonzero(np.any((pts < 0) | (pts > 1), axis=1))
    if len(bad):
        raise MorphError(f"{where}: pair {bad[0] + 1} {pts[bad[0]].tolist()} is outside the picture: coordinates "
                         "go from 0 (left, top) to 1 (right, bottom)")
    return pts.astype(np.float32)


def read_points(path) -> np.ndarray:
    """The pairs in a JSON file, checked (check_points)."""
    path = Path(path)
    if not path.is_file():
        raise MorphError(f"points file {path} not found")
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise MorphError(f"{path} is not JSON ({e}): write pairs as [[xa, ya, xb, yb], ...]") from None
    return check_points(data, str(path))


def write_points(path, pts) -> Path:
    """Save pairs as JSON, atomically (an empty list removes the file)."""
    path = Path(path)
    if len(pts) == 0:
        path.unlink(missing_ok=True)
        return path
    pts = check_points(pts, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps([[round(float(v), 5) for v in p] for p in pts]) + "\n")
    return path


def points_file(a, b, folder) -> Path:
    """Where the pairs of link a -> b are saved: <folder>/points/<a>-<b>.json (folder: the nets', W-<H>/)."""
    return Path(folder) / POINTS_DIR / f"{a}-{b}.json"


def saved_points(a, b, folder):
    """The saved pairs of a -> b (those of b -> a, swapped, if only they are saved), or None."""
    for src, dst, swap in ((a, b, False), (b, a, True)):
        path = points_file(src, dst, folder)
        if path.is_file():
            pts = read_points(path)
            return pts[:, [2, 3, 0, 1]] if swap else pts
    return None


class Still:
    """A link without correspondences that is blended all the same: its pictures stay where they are."""

    maps = None


@dataclass
class Warp:
    """The maps of a link's frames from its pairs (N, 4): maps(t, xy) -> (W_{t->A}(xy), W_{t->B}(xy))."""

    pairs: np.ndarray
    smoothing: float = SMOOTHING["points"]
    _grids: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        self.pairs = check_points(self.pairs)
        self.smoothing = _unfolded(self.pairs, self.smoothing)

    def maps(self, t: float, xy):
        """(xy_A, xy_B), float32 (N, 2): where frame t's points xy (N, 2) lie in A and in B. Exactly the identity
        onto A at t = 0 and onto B at t = 1."""
        t = float(t)
        if t not in self._grids:
            self._grids[t] = _grid_maps(self.pairs, t, self.smoothing)
        out = _bilinear(self._grids[t], xy)
        if t == 0.0:
            out[:, :2] = xy
        if t == 1.0:
            out[:, 2:] = xy
        return out[:, :2], out[:, 2:]

    def __getstate__(self):  # sent to Dask workers without the cache
        return {"pairs": self.pairs, "smoothing": self.smoothing}

    def __setstate__(self, state):
        self.pairs, self.smoothing, self._grids = state["pairs"], state["smoothing"], {}


def _similarity(src, dst) -> np.ndarray:
    """The 2 x 3 matrix [s R | d] taking src (N, 2) closest to dst (least squares; a shift for one point)."""
    ms, md = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - ms, dst - md
    var = float(np.sum(s * s))
    if len(src) < 2 or var < 1e-12:
        return np.array([[1.0, 0.0, md[0] - ms[0]], [0.0, 1.0, md[1] - ms[1]]])
    a = float(np.sum(s * d)) / var  # s cos(angle)
    b = float(np.sum(s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0])) / var  # s sin(angle)
    m = np.array([[a, -b], [b, a]])
    return np.concatenate([m, (md - m @ ms)[:, None]], axis=1)


@one_blas_thread  # the same bits in every process (a worker's band and the whole frame agree)
def _grid_maps(pairs, t, smoothing) -> np.ndarray:
    """Both maps of frame t on the GRID x GRID nodes over [0, 1]^2: (GRID, GRID, 4) float64 (x_A, y_A, x_B, y_B)."""
    pairs = pairs.astype(np.float64)
    pa, pb = pairs[:, :2], pairs[:, 2:]
    pt = (1 - t) * pa + t * pb
    nodes, bases = _nodes(), [_similarity(pt, target) for target in (pa, pb)]
    rest = np.concatenate([target - _affine(m, pt) for target, m in zip((pa, pb), bases)], axis=1)
    out = np.concatenate([_affine(m, nodes) for m in bases], axis=1) + _spline(pt, rest, smoothing, nodes)
    return out.reshape(GRID, GRID, 4)


def _affine(m, p) -> np.ndarray:
    """Points p (N, 2) through the 2 x 3 matrix m."""
    return p @ m[:, :2].T + m[:, 2]


def _nodes() -> np.ndarray:
    c = np.linspace(0.0, 1.0, GRID)
    xx, yy = np.meshgrid(c, c)
    return np.stack([xx.ravel(), yy.ravel()], axis=1)


def _spline(src, values, smoothing, at) -> np.ndarray:
    """A thin-plate spline through values (N, k) at src (N, 2), evaluated at `at` (M, 2); 0 where it cannot be
    fitted (fewer than 3 points, all on a line)."""
    none = np.zeros((len(at), values.shape[1]))
    if len(src) < 3 or not np.any(values):
        return none
    try:
        return RBFInterpolator(src, values, kernel="thin_plate_spline", smoothing=smoothing, degree=1)(at)
    except (np.linalg.LinAlgError, ValueError):
        return none


def _bilinear(grid, xy) -> np.ndarray:
    """grid (G, G, 4) over [0, 1]^2 at xy (N, 2), bilinearly (edge cells carried on past [0, 1])."""
    xp = np.asarray(xy, dtype=np.float64)
    g = grid.shape[0] - 1
    fx, fy = xp[:, 0] * g, xp[:, 1] * g
    ix, iy = np.clip(np.floor(fx), 0, g - 1).astype(np.intp), np.clip(np.floor(fy), 0, g - 1).astype(np.intp)
    fx, fy = (fx - ix)[:, None], (fy - iy)[:, None]
    top = grid[iy, ix] * (1 - fx) + grid[iy, ix + 1] * fx
    low = grid[iy + 1, ix] * (1 - fx) + grid[iy + 1, ix + 1] * fx
    return (top * (1 - fy) + low * fy).astype(np.float32)


FOLD_TS = (0.0, 0.5, 1.0)


def _unfolded(pairs, smoothing, tries=8) -> float:
    """The least smoothing (from `smoothing`, x10 a try) for which no map of frames FOLD_TS folds; past `tries`,
    a smoothing so strong that the maps are near their similarity."""
    for _ in range(tries):
        if all(_least_jacobian(_grid_maps(pairs, t, smoothing)) >= MIN_JACOBIAN for t in FOLD_TS):
            return smoothing
        smoothing *= 10
    return smoothing


def _least_jacobian(grid) -> float:
    """The smallest Jacobian determinant of either map over the grid's cells (finite differences), relative to
    the identity's."""
    step = 1.0 / (grid.shape[0] - 1)
    dx, dy = np.diff(grid, axis=1)[:-1] / step, np.diff(grid, axis=0)[:, :-1] / step
    dets = [dx[..., k] * dy[..., k + 1] - dx[..., k + 1] * dy[..., k] for k in (0, 2)]
    return float(min(d.min() for d in dets))


def _cv2():
    try:
        import cv2
    except ImportError:
        raise MorphError("--warp auto needs OpenCV: pip install opencv-python-headless (or use --warp points "
                         "or none)") from None
    return cv2


def _grey(rgb) -> np.ndarray:
    """uint8 luminance of a float RGB picture."""
    y = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    return np.clip(np.rint(y * 255), 0, 255).astype(np.uint8)


def match(a, b) -> tuple:
    """(pairs (N, 4) or None, a line saying what matched) between pictures a and b (float RGB, any sizes):
    SIFT, AKAZE and ORB features matched both ways, then a RANSAC similarity; where enough of them agree, dense
    DIS optical flow between B and A moved by that similarity adds pairs where the flow goes there and back."""
    cv2 = _cv2()
    ga, gb = _grey(a), _grey(b)
    pa, pb = _features(cv2, ga, gb)
    if len(pa) < MIN_INLIERS:
        return None, f"only {len(pa)} features matched"
    sim, keep = cv2.estimateAffinePartial2D(pa, pb, method=cv2.RANSAC, ransacReprojThreshold=0.04 * max(gb.shape))
    inliers = int(keep.sum()) if keep is not None else 0
    if sim is None or inliers < max(MIN_INLIERS, MIN_SHARE * len(pa)):
        return None, f"only {inliers} of {len(pa)} matched features agree on one placement"
    keep = np.flatnonzero(keep.ravel())
    keep = keep[np.linspace(0, len(keep) - 1, min(len(keep), MAX_FEATURES)).round().astype(int)]  # spline's cost
    sa, sb = np.array(ga.shape[::-1], np.float64), np.array(gb.shape[::-1], np.float64)
    feats = np.concatenate([(pa[keep] + 0.5) / sa, (pb[keep] + 0.5) / sb], axis=1)  # OpenCV: centres at k
    flow = _flow_pairs(cv2, ga, gb, sim)
    pairs = np.concatenate([feats, flow]) if len(flow) else feats
    return pairs.astype(np.float32), f"{inliers} features and {len(flow)} flow points matched"


def _features(cv2, ga, gb) -> tuple:
    """Matched features' places (OpenCV pixels) in A and B, (N, 2) each: each detector's features matched both
    ways (each is the other's nearest), all detectors pooled."""
    pa, pb = [], []
    for detector, norm in ((cv2.SIFT_create(), cv2.NORM_L2), (cv2.AKAZE_create(), cv2.NORM_HAMMING),
                           (cv2.ORB_create(2000), cv2.NORM_HAMMING)):
        ka, da = detector.detectAndCompute(ga, None)
        kb, db = detector.detectAndCompute(gb, None)
        if da is None or db is None:
            continue
        for m in cv2.BFMatcher(norm, crossCheck=True).match(da, db):
            pa.append(ka[m.queryIdx].pt)
            pb.append(kb[m.trainIdx].pt)
    return np.array(pa, np.float64).reshape(-1, 2), np.array(pb, np.float64).reshape(-1, 2)


def _flow_pairs(cv2, ga, gb, sim) -> np.ndarray:
    """Pairs from DIS optical flow between B and A placed over B by `sim` (2 x 3, pixels), on a FLOW_GRID grid
    of B, where the flow there and back agrees and the point lies inside A."""
    h, w = gb.shape
    moved = cv2.warpAffine(ga, sim, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    there, back = dis.calc(gb, moved, None), dis.calc(moved, gb, None)
    c = (np.arange(FLOW_GRID) + 0.5) / FLOW_GRID
    xx, yy = np.meshgrid(np.rint(c * w - 0.5), np.rint(c * h - 0.5))
    q = np.stack([xx.ravel(), yy.ravel()], axis=1)  # B's pixels
    f = there[q[:, 1].astype(int), q[:, 0].astype(int)]
    r = q + f  # the same point in `moved`
    ri = np.clip(np.rint(r), 0, [w - 1, h - 1]).astype(int)
    miss = np.linalg.norm(f + back[ri[:, 1], ri[:, 0]], axis=1) / max(w, h)
    inv = cv2.invertAffineTransform(sim)
    p = r @ inv[:, :2].T + inv[:, 2]  # in A's pixels
    ha, wa = ga.shape
    inside = np.all((p > 0.02 * wa) & (p < [0.98 * wa, 0.98 * ha]), axis=1) & np.all((r >= 0) & (r < [w, h]), axis=1)
    ok = inside & (miss < FLOW_ERROR)
    return np.concatenate([(p[ok] + 0.5) / [wa, ha], (q[ok] + 0.5) / [w, h]], axis=1)


def link_warp(src, dst, a: Net, b: Net, *, warp=WARP, points=None, folder=".", aspects=(1.0, 1.0)) -> tuple:
    """(Warp, Still or None, a line saying where its pairs came from, or why there are none) for link src -> dst of
    nets a and b: `points` (pairs, or a JSON file), else the link's saved points (in <folder>/points/), else with
    warp "auto" pairs matched between the nets' pictures (rendered MATCH_SIDE big; `aspects` their width /
    height), else Still(). warp "none": (None, None)."""
    checks.choice("warp", warp, WARPS)
    if warp == "none":
        return None, None
    given = points if points is None or not isinstance(points, (str, Path)) else read_points(points)
    pts = check_points(given, "points") if given is not None else saved_points(src, dst, folder)
    if pts is not None:
        where = "given" if given is not None else f"saved in {Path(folder) / POINTS_DIR}/"
        return Warp(pts), f"{src}>{dst}: {len(pts)} points {where}"
    if warp == "points":
        raise MorphError(f"link {src}>{dst} has no points: save pairs in {points_file(src, dst, folder)} (the "
                         "point editor of transition.ipynb writes them), give --points FILE, or use --warp auto")
    pictures = [render(n, *_match_size(r)) for n, r in ((a, aspects[0]), (b, aspects[1]))]
    if warp == "shapes":
        return Warp(shapes(*pictures), SMOOTHING["shapes"]), f"{src}>{dst}: shapes carried by optimal transport"
    pairs, line = match(*pictures)
    if pairs is None:
        return Still(), f"{src}>{dst}: {line}: nothing moves, the pictures are blended where they are"
    return Warp(pairs, SMOOTHING["auto"]), f"{src}>{dst}: {line}"


def _match_size(aspect) -> tuple:
    """(height, width) of a picture of `aspect` whose longer side is MATCH_SIDE."""
    if aspect >= 1:
        return max(1, round(MATCH_SIDE / aspect)), MATCH_SIDE
    return MATCH_SIDE, max(1, round(MATCH_SIDE * aspect))


def shapes(a, b) -> np.ndarray:
    """Pairs (N, 4) that carry picture A's shapes onto B's: optimal transport (POT's exact solver) between the two
    pictures' SHAPE_CELLS x SHAPE_CELLS cells, a cell's mass its colour's distance from the picture's background
    (its border's median colour); each of A's SHAPE_PAIRS heaviest cells paired with the mean place its mass
    goes to in B."""
    for backend in ("PYTORCH", "JAX", "CUPY", "TENSORFLOW"):  # POT would import every one it finds
        os.environ.setdefault(f"POT_BACKEND_DISABLE_{backend}", "1")
    import ot

    ma, mb = _mass(a), _mass(b)
    c = (np.arange(SHAPE_CELLS) + 0.5) / SHAPE_CELLS
    xy = np.stack(np.meshgrid(c, c), axis=-1).reshape(-1, 2)
    plan = ot.emd(ma, mb, ot.dist(xy, xy))
    goes = plan @ xy / plan.sum(axis=1, keepdims=True)
    heavy = np.argsort(-ma, kind="stable")[:SHAPE_PAIRS]
    return np.clip(np.concatenate([xy[heavy], goes[heavy]], axis=1), 0, 1).astype(np.float32)


def _mass(rgb) -> np.ndarray:
    """A picture as SHAPE_CELLS^2 cells of mass summing to 1: each cell's colour distance from the background, and
    a little everywhere (so that every cell can send and take some)."""
    small = resize(rgb, (SHAPE_CELLS, SHAPE_CELLS)).astype(np.float64)
    border = np.concatenate([small[0], small[-1], small[:, 0], small[:, -1]])
    m = np.linalg.norm(small - np.median(border, axis=0), axis=2).ravel() + 0.02
    return m / m.sum()
