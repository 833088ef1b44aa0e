"""Closed forms and conventions of the metrics (issue 35): each metric pinned by a value computed by hand.

Image metrics (metrics/image.py `fidelity`, which hands uint8 images to torch-fidelity) run here on a
lookup-table feature network: image i carries its row index in two pixels, and the network returns
row i of a float32 table drawn in the test. The features are then known exactly, and every number is
recomputed from the same table with numpy/scipy, independently of the suite and of torch-fidelity.
Toy and Stacked MNIST mode metrics (metrics/toy.py, metrics/modes.py) run on constructed samples.
"""

import itertools
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch_fidelity
from scipy import linalg
from scipy.optimize import linear_sum_assignment
from scipy.stats import wasserstein_distance
from torch import Tensor
from torch.testing import assert_close
from torch_fidelity import FeatureExtractorBase
from torch_fidelity.metric_fid import fid_statistics_to_metric
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

from wgan_core.data import toy_centres, toy_std
from wgan_core.errors import ConfigError
from wgan_core.metrics.classifier import ClassifierFeatures, ClassifierNet
from wgan_core.metrics.extractors import Extractor
from wgan_core.metrics.image import KID_SUBSET_SIZE, PRC_NEIGHBORHOOD, fidelity
from wgan_core.metrics.modes import mode_histogram_stats
from wgan_core.metrics.toy import mode_stats, w1_exact

TABLE = "wgan-test-feature-table"  # torch-fidelity name of the lookup-table network below
NET = "wgan-test-random-classifier"  # the suite's ClassifierFeatures over an untrained ClassifierNet


class TableFeatures(FeatureExtractorBase):
    """Features = rows of a float32 table (rows, D) saved at the weights path; image i (uint8 (1, 8, 8)) selects row 256*x[0,0,0] + x[0,0,1]."""

    def __init__(self, name: str, features_list: list[str], feature_extractor_weights_path: str | None = None, **kwargs) -> None:
        super().__init__(name, features_list)
        self.table = torch.load(feature_extractor_weights_path, weights_only=True)

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return ("feature",)

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return "feature"

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> Tensor:
        return torch.zeros(1, 1, 8, 8, dtype=torch.uint8)

    def forward(self, x: Tensor) -> tuple[Tensor]:
        rows = x[:, 0, 0, 0].long() * 256 + x[:, 0, 0, 1].long()  # (B,)
        return (self.table[rows],)  # (B, D) float32


for _name, _cls in ((TABLE, TableFeatures), (NET, ClassifierFeatures)):
    if _name not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(_name, _cls)


def _indexed_images(start: int, n: int) -> Tensor:
    """uint8 (n, 1, 8, 8) images whose first two pixels spell the rows start .. start + n - 1."""
    x = torch.zeros(n, 1, 8, 8, dtype=torch.uint8)
    rows = torch.arange(start, start + n)
    x[:, 0, 0, 0], x[:, 0, 0, 1] = rows // 256, rows % 256
    return x


def _table_inputs(tmp_path: Path, fake: np.ndarray, real: np.ndarray, batch_size: int = 64) -> tuple[Tensor, Tensor, Extractor]:
    """(fake images, real images, extractor) whose features are exactly `fake` (N, D) and `real` (M, D) as float32."""
    table = torch.from_numpy(np.concatenate([fake, real]).astype(np.float32))
    path = tmp_path / f"table-{len(list(tmp_path.glob('table-*')))}.pt"
    torch.save(table, path)
    ext = Extractor("classifier", TABLE, path, path.stem, False, batch_size)
    return _indexed_images(0, len(fake)), _indexed_images(len(fake), len(real)), ext


def _frechet(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) in float64 (Dowson & Landau 1982; Heusel et al. 2017, eq. 6)."""
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def _spd(d: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.5 * np.eye(d)


# ---------------------------------------------------------------------------------------------
# FID: the closed form
# ---------------------------------------------------------------------------------------------
def test_frechet_of_given_statistics_is_the_closed_form():
    """torch-fidelity's fid_statistics_to_metric (metric_fid.py; the suite has no Frechet code of its own, see
    metrics/image.py's docstring) on given (mu, sigma) equals ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)).

    Two cases: diagonal covariances, where Tr(...) = sum_i (sqrt(a_i) - sqrt(b_i))^2 needs no matrix root,
    and two full covariances that do not commute, against scipy.linalg.sqrtm. Relative 1e-6.
    """
    mu1, mu2 = np.array([1.0, -2.0, 0.5]), np.array([0.0, 1.0, 3.0])
    a, b = np.array([4.0, 1.0, 0.25]), np.array([1.0, 9.0, 0.25])
    by_hand = 1 + 9 + 6.25 + (2 - 1) ** 2 + (1 - 3) ** 2 + (0.5 - 0.5) ** 2  # ||mu1 - mu2||^2 + sum (sqrt a - sqrt b)^2 = 21.25
    got = fid_statistics_to_metric({"mu": mu1, "sigma": np.diag(a)}, {"mu": mu2, "sigma": np.diag(b)}, False)
    assert_close(got[torch_fidelity.KEY_METRIC_FID], by_hand, rtol=1e-6, atol=0)

    rng = np.random.default_rng(0)
    s1, s2 = _spd(5, rng), _spd(5, rng)
    assert not np.allclose(s1 @ s2, s2 @ s1)  # the general case: the root of a non-symmetric product
    m1, m2 = rng.normal(size=5), rng.normal(size=5)
    got = fid_statistics_to_metric({"mu": m1, "sigma": s1}, {"mu": m2, "sigma": s2}, False)
    assert_close(got[torch_fidelity.KEY_METRIC_FID], _frechet(m1, s1, m2, s2), rtol=1e-6, atol=0)


@pytest.mark.parametrize("seed", [0, 1])
def test_suite_fid_of_gaussian_features_is_the_closed_form_of_their_sample_statistics(tmp_path, seed):
    """metrics/image.py `fidelity(...)["fid"]` on features drawn from N(mu1, S1) and N(mu2, S2) equals the closed
    form on their sample mean and unbiased covariance, both computed here by hand in float64 (Heusel et al. 2017).

    Relative 1e-6. torch-fidelity averages the features in float32 (metric_fid.py `fid_features_to_statistics`:
    np.mean of a float32 array), which on raw float32 draws costs up to ~6e-7 relative here; the draws are rounded
    to multiples of 1/256 (|x| < 16) so that those float32 sums are exact and only the final division rounds.
    """
    rng = np.random.default_rng(seed)
    d = 4
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d) + 1.0

    def draw(mu: np.ndarray, n: int) -> np.ndarray:
        f = np.round(rng.multivariate_normal(mu, _spd(d, rng), size=n) * 256) / 256
        assert np.abs(f).max() < 16
        return f.astype(np.float32)  # (n, 4), exact in float32

    f1, f2 = draw(mu1, 300), draw(mu2, 350)  # fakes, reals
    fake, real, ext = _table_inputs(tmp_path, f1, f2)

    def stats(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = f.astype(np.float64)
        mu = x.sum(0) / len(x)
        c = x - mu
        return mu, c.T @ c / (len(x) - 1)

    by_hand = _frechet(*stats(f1), *stats(f2))
    assert by_hand > 1.0  # well away from 0, so the relative tolerance means something
    assert_close(fidelity(fake, real, ext, kid=False)["fid"], by_hand, rtol=1e-6, atol=0)


# ---------------------------------------------------------------------------------------------
# KID: the closed form when every subset is the whole set, and too few samples
# ---------------------------------------------------------------------------------------------
def _poly(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """KID's kernel k(x, y) = (x.y / d + 1)^3 (Binkowski et al. 2018, sec. 3; torch-fidelity metric_kid.py defaults)."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def test_kid_with_subsets_of_every_sample_is_the_unbiased_mmd2_by_hand(tmp_path):
    """With n fakes, n reals and subset size n, every one of KID's random subsets is the whole set, so
    KID = the unbiased MMD^2 of Binkowski et al. 2018 (eq. 3 with the off-diagonal sums):
    sum_{i != j} k(x_i, x_j) / (n (n - 1)) + sum_{i != j} k(y_i, y_j) / (n (n - 1)) - 2 sum_{i, j} k(x_i, y_j) / n^2,
    computed here in float64; and kid_std = 0. Relative 2e-5: torch-fidelity forms the kernels in float32.
    """
    rng = np.random.default_rng(3)
    n = 60
    x = rng.normal(size=(n, 6)).astype(np.float32)
    y = (rng.normal(size=(n, 6)) * 1.5 + 0.7).astype(np.float32)
    fake, real, ext = _table_inputs(tmp_path, x, y)
    xd, yd = x.astype(np.float64), y.astype(np.float64)
    kxx, kyy, kxy = _poly(xd, xd), _poly(yd, yd), _poly(xd, yd)
    by_hand = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.sum() / n**2
    assert by_hand > 0.5
    r = fidelity(fake, real, ext, kid=True, kid_subset_size=n)
    assert_close(r["kid"], float(by_hand), rtol=2e-5, atol=0)
    assert r["kid_std"] < 1e-6 * r["kid"]


def test_kid_below_its_subset_size_warns_one_line_and_uses_the_smaller_side(tmp_path):
    """metrics/image.py `_kid_subset`: with fewer samples than KID's usual subset size (1,000, KID_SUBSET_SIZE) and no
    explicit size, fidelity warns on ONE line naming the sample count and the usual subset size, and KID is
    computed on subsets of the smaller side (the same value as asking for that size outright, without a warning).
    A training evaluation (`_run_metrics`) silences the warning and records kid_subset_size in its row, so it
    never crashes a run. An explicit size above the sample count is a one-line ConfigError naming both.
    """
    rng = np.random.default_rng(4)
    fake, real, ext = _table_inputs(tmp_path, rng.normal(size=(40, 3)), rng.normal(size=(300, 3)) + 0.5)
    with pytest.warns(UserWarning) as caught:
        r = fidelity(fake, real, ext)
    (w,) = [c for c in caught if "KID" in str(c.message)]
    msg = str(w.message)
    assert "\n" not in msg and "40 images" in msg and f"subset size {KID_SUBSET_SIZE}" in msg and "subsets of 40" in msg
    assert r["kid_subset_size"] == 40
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an explicit, allowed size: no warning at all
        explicit = fidelity(fake, real, ext, kid_subset_size=40)
    assert (explicit["kid"], explicit["kid_std"]) == (r["kid"], r["kid_std"])
    with pytest.raises(ConfigError) as e:
        fidelity(fake, real, ext, kid_subset_size=41)
    assert "\n" not in str(e.value) and "[2, 40]" in str(e.value) and "40 fake and 300 real" in str(e.value) and "got 41" in str(e.value)


# ---------------------------------------------------------------------------------------------
# Precision and recall: orientation, and the k-NN definition by hand
# ---------------------------------------------------------------------------------------------
def _knn_precision_recall(fake: np.ndarray, real: np.ndarray, k: int) -> tuple[float, float]:
    """Kynkaanniemi et al. 2019, eqs. 1-2, in float64: precision = share of fakes inside some real sample's ball
    (radius: distance to its k-th nearest real neighbour, itself excluded); recall = the same with the roles swapped."""

    def inside(points: np.ndarray, support: np.ndarray) -> float:
        radius = np.sort(linalg.norm(support[:, None] - support[None], axis=2), axis=1)[:, k]  # column 0: itself
        d = linalg.norm(points[:, None] - support[None], axis=2)  # (P, S)
        return float((d <= radius[None]).any(axis=1).mean())

    return inside(fake, real), inside(real, fake)


def test_precision_recall_orientation_on_half_the_modes(tmp_path):
    """Reals: 8 Gaussian modes (std 1) on a circle of radius 100 in 2-D, 60 each; fakes: 120 each on modes 0-3 only.
    Precision asks whether fakes look real, recall whether the reals are covered (Kynkaanniemi et al. 2019), so
    precision is near 1 and recall near 0.5; swapped (torch-fidelity issue 58, or the suite passing real as
    input1) they would read about 0.5 and 1.

    Tolerances: recall <= 0.5 exactly, since the 240 reals of modes 4-7 lie > 60 from every fake while no fake's
    k-NN radius exceeds 10 (asserted); below that, tail samples fall outside every ball of the other side: over
    seeds 0-29 of this construction precision ran 0.935-0.99 and recall 0.473-0.494 (seed 5: 0.973, 0.483), so
    precision >= 0.9 and recall >= 0.45 hold with margin, while a swap (about 0.5 and 1) fails both.
    The exact values must also match the definition computed by hand in float64.
    """
    rng = np.random.default_rng(5)
    angles = 2 * np.pi * np.arange(8) / 8
    centres = 100 * np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (8, 2), neighbours 76.5 apart
    real = np.concatenate([c + rng.normal(size=(60, 2)) for c in centres]).astype(np.float32)  # (480, 2)
    fake = np.concatenate([c + rng.normal(size=(120, 2)) for c in centres[:4]]).astype(np.float32)  # (480, 2)
    f64 = fake.astype(np.float64)
    fake_radius = np.sort(linalg.norm(f64[:, None] - f64[None], axis=2), axis=1)[:, PRC_NEIGHBORHOOD]
    assert fake_radius.max() < 10
    a, b, ext = _table_inputs(tmp_path, fake, real)
    r = fidelity(a, b, ext, kid=False, prc=True)
    precision, recall = _knn_precision_recall(f64, real.astype(np.float64), PRC_NEIGHBORHOOD)
    assert (r["precision"], r["recall"]) == pytest.approx((precision, recall), abs=1e-6)
    assert r["precision"] >= 0.9
    assert 0.45 <= r["recall"] <= 0.5


# ---------------------------------------------------------------------------------------------
# Batch sizes
# ---------------------------------------------------------------------------------------------
def _levels(g: torch.Generator, n: int, lo: float, hi: float) -> Tensor:
    """uint8 images (n, 1, 16, 16): a random grey level in [lo, hi] per image, plus uniform noise of 40 levels."""
    level = lo + (hi - lo) * torch.rand(n, 1, 1, 1, generator=g)
    return (level + 40 * torch.rand(n, 1, 16, 16, generator=g)).clamp(0, 255).to(torch.uint8)


@pytest.fixture(scope="module")
def random_net(tmp_path_factory) -> Path:
    """An untrained ClassifierNet (1 channel, 16 px, width 4, 8 features) in load_net's file format, its BatchNorm
    running statistics set from 512 images as training would set them (so the features have scale ~1)."""
    from wgan_core.metrics.classifier import net_input

    with torch.random.fork_rng():  # leaves the global stream as it was
        torch.manual_seed(0)
        net = ClassifierNet(1, 10, 16, width=4, features=8)
    for m in net.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.momentum = None  # cumulative averages over the calibration batch
    with torch.no_grad():
        net.train()(net_input(net, _levels(torch.Generator().manual_seed(1), 512, 0, 215)))
    meta = {"channels": 1, "classes": 10, "resolution": 16, "settings": {"width": 4, "features": 8}}
    path = tmp_path_factory.mktemp("random-net") / "net.pt"
    torch.save({"state_dict": net.state_dict(), "meta": meta}, path)
    return path


def test_fid_kid_precision_recall_do_not_depend_on_the_feature_batch_size(random_net):
    """The suite's only batch-size setting for image metrics is `Extractor.batch_size` (metrics/extractors.py), the
    images per feature-network call that fidelity() hands to torch-fidelity (500 for the classifier, 32 for
    Inception). With the suite's ClassifierFeatures (eval mode, BatchNorm on running statistics) the features of
    an image must not depend on its batch: FID, KID (+ std), precision and recall agree within 1e-6 relative for
    one batch, batches of 7 and single images (also a last, partial batch: 203 and 211 images).
    """
    g = torch.Generator().manual_seed(6)
    fake, real = _levels(g, 203, 0, 120), _levels(g, 211, 60, 215)
    out = {}
    for bs in (500, 7, 1):
        ext = Extractor("classifier", NET, random_net, "random", False, bs)
        out[bs] = fidelity(fake, real, ext, kid=True, prc=True, kid_subset_size=100)
    keys = ("fid", "kid", "kid_std", "precision", "recall")
    assert out[500]["fid"] > 0.1 and out[500]["kid"] > 1e-3 and 0 < out[500]["recall"] < 1
    for bs in (7, 1):
        assert_close([out[bs][k] for k in keys], [out[500][k] for k in keys], rtol=1e-6, atol=0)


def test_precision_recall_do_not_depend_on_the_distance_block_size(tmp_path, monkeypatch):
    """fidelity() asks torch-fidelity for precision/recall with save_cpu_ram=True (blockwise distances) and a fixed
    prc_batch_size of 2,500 (metrics/image.py; not a parameter). Blocks of 2,500 (one block here) and of 7 rows
    (many, with a partial last block) must give the same values, equal to the float64 definition by hand.
    """
    rng = np.random.default_rng(7)
    fake = rng.normal(size=(150, 3)).astype(np.float32)
    real = (rng.normal(size=(170, 3)) * 1.3 + 0.4).astype(np.float32)
    a, b, ext = _table_inputs(tmp_path, fake, real)
    seen = []
    calculate = torch_fidelity.calculate_metrics

    def with_blocks(size):
        def call(**kw):
            seen.append((kw["prc_batch_size"], kw["save_cpu_ram"]))
            return calculate(**{**kw, "prc_batch_size": size or kw["prc_batch_size"]})

        return call

    res = {}
    for size in (None, 7):
        monkeypatch.setattr(torch_fidelity, "calculate_metrics", with_blocks(size))
        res[size] = fidelity(a, b, ext, kid=False, prc=True)
    assert seen == [(2500, True), (2500, True)]
    by_hand = _knn_precision_recall(fake.astype(np.float64), real.astype(np.float64), PRC_NEIGHBORHOOD)
    assert 0 < by_hand[0] < 1 and 0 < by_hand[1] < 1
    for size in (None, 7):
        assert (res[size]["precision"], res[size]["recall"]) == pytest.approx(by_hand, abs=1e-6)


# ---------------------------------------------------------------------------------------------
# Toy W1
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [5, 17, 40])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_w1_on_a_line_is_scipy_wasserstein_distance(n, seed):
    """metrics/toy.py `w1_exact` takes points (n, d); on a line (d = 1, or d = 2 with one coordinate constant) it
    equals scipy.stats.wasserstein_distance of the 1-D values (the area between the two CDFs). 1-D arrays (n,)
    are refused (ValueError), not read as n points.
    """
    rng = np.random.default_rng(seed)
    u, v = rng.normal(size=n), rng.exponential(size=n) + 0.3
    expected = wasserstein_distance(u, v)
    assert_close(w1_exact(u[:, None], v[:, None]), expected, rtol=1e-12, atol=0)
    on_a_line = w1_exact(np.stack([u, np.full(n, 2.5)], 1), np.stack([v, np.full(n, 2.5)], 1))
    assert_close(on_a_line, expected, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        w1_exact(u, v)


@pytest.mark.parametrize("n", [6, 11, 20])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_w1_in_2d_is_the_optimal_assignment_of_euclidean_costs(n, seed):
    """W1 between two equal-size empirical measures is min over matchings of the mean Euclidean cost (Birkhoff-von
    Neumann: an optimal plan is a permutation). Reference: the cost matrix formed by hand (no cdist) and
    scipy's linear_sum_assignment; for n <= 7 also every permutation.
    """
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(n, 2)), rng.normal(size=(n, 2)) * 2 + 0.5
    cost = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))  # (n, n) Euclidean
    rows, cols = linear_sum_assignment(cost)
    assert_close(w1_exact(torch.from_numpy(a), torch.from_numpy(b)), float(cost[rows, cols].mean()), rtol=1e-12, atol=0)
    if n <= 7:
        brute = min(cost[np.arange(n), list(p)].mean() for p in itertools.permutations(range(n)))
        assert_close(w1_exact(a, b), float(brute), rtol=1e-12, atol=0)


# ---------------------------------------------------------------------------------------------
# Mode counts and reverse KL
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "dataset, modes, counts",
    [("8gaussians", [0, 3, 6], [50, 30, 20]), ("25gaussians", [1, 12, 13, 24], [40, 30, 20, 10])],
)
def test_toy_mode_stats_of_samples_on_chosen_centres(dataset, modes, counts):
    """metrics/toy.py `mode_stats` (VEEGAN sec. 5.1, as the module docstring says): a sample is high quality within
    3 sigma of its nearest centre; a mode is covered by >= 1 high-quality sample; reverse_kl = KL(p || uniform_K)
    = sum_j p_j log(p_j K), p = the high-quality samples' mode shares (toy.py: "KL(generated modes || uniform)");
    modes_strict counts modes holding >= min_share (default 1 / (4K)) of all samples.

    Samples at chosen centres (and 2.5 sigma off them, still high quality) in given proportions: modes = the
    number chosen, high_quality = 1, reverse_kl by hand. Then 25 samples far from every mode (at (3, -3), beyond
    both mixtures' centres, |c| <= 2) lower high_quality to 100/125 and leave modes and reverse_kl alone.
    """
    centres, sd = toy_centres(dataset).double(), toy_std(dataset)
    k = len(centres)
    step = torch.tensor([2.5 * sd, 0.0], dtype=torch.float64)
    samples = torch.stack([centres[m] + (i % 2) * step for m, c in zip(modes, counts) for i in range(c)])  # (100, 2)
    n = sum(counts)
    p = [c / n for c in counts]
    kl = sum(pi * math.log(pi * k) for pi in p)
    s = mode_stats(samples, dataset)
    assert s["modes"] == len(modes) and s["high_quality"] == 1.0
    assert_close(s["reverse_kl"], kl)
    assert s["modes_strict"] == sum(c >= n / (4 * k) for c in counts)

    far = torch.tensor([[3.0, -3.0]], dtype=torch.float64).repeat(25, 1)
    assert torch.cdist(far[:1], centres).min() > 10 * 3 * sd
    s = mode_stats(torch.cat([samples, far]), dataset)
    assert s["modes"] == len(modes) and s["high_quality"] == n / (n + 25)
    assert_close(s["reverse_kl"], kl)


def test_toy_mode_stats_with_a_strict_share_that_drops_the_small_mode():
    """modes_strict (metrics/toy.py): a mode counts when it holds >= min_share of ALL samples, low quality included.
    50/30/20 samples on three 8gaussians centres plus 100 at the origin, 1.41 from every centre: the 20-sample
    mode holds 10% of the 200."""
    c = toy_centres("8gaussians").double()
    samples = torch.cat([c[0].repeat(50, 1), c[1].repeat(30, 1), c[2].repeat(20, 1), torch.zeros(100, 2, dtype=torch.float64)])
    assert mode_stats(samples, "8gaussians", min_share=0.11)["modes_strict"] == 2
    assert mode_stats(samples, "8gaussians", min_share=0.10)["modes_strict"] == 3
    assert mode_stats(samples, "8gaussians", min_share=0.10)["high_quality"] == 0.5


def test_stacked_mnist_mode_histogram_of_a_constructed_mixture():
    """metrics/modes.py `mode_histogram_stats`: modes = modes with >= 1 sample; reverse_kl = KL(p || uniform_K)
    = sum_j p_j log(p_j K) over p_j > 0 in nats (its docstring; same direction as toy.py). Modes 7, 123 and 999
    of K = 1000 holding 5, 3 and 2 of 10 samples, in shuffled order."""
    ids = torch.tensor([123, 7, 999, 7, 123, 7, 999, 7, 123, 7])
    s = mode_histogram_stats(ids, 1000)
    assert s["modes"] == 3
    assert_close(s["reverse_kl"], 0.5 * math.log(500) + 0.3 * math.log(300) + 0.2 * math.log(200))
