"""Gradient penalties against closed forms, weight clipping, and the penalty's reach into the critic."""

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from wgan_core.config import RunConfig
from wgan_core.models import build_models
from wgan_core.penalties import CONSTRAINTS, clip_weights_, gradient_penalty, input_grad_norms, penalty


def linear_critic(w):
    f = nn.Linear(len(w), 1, bias=True)
    with torch.no_grad():
        f.weight.copy_(torch.tensor([w]))
        f.bias.fill_(0.3)
    return f


@pytest.mark.parametrize("w", [[3.0, 4.0], [0.3, 0.4], [0.6, 0.8]])  # norms 5, 0.5 and 1
def test_linear_critic_penalty_closed_form(w):
    # f(x) = w.x + b has gradient w everywhere, so ||grad|| = ||w|| at every interpolate.
    f = linear_critic(w)
    real, fake = torch.randn(16, 2, generator=torch.Generator().manual_seed(0)), torch.randn(16, 2)
    norm = torch.tensor(w).norm()
    assert_close(gradient_penalty(f, real, fake), (norm - 1) ** 2, atol=1e-5, rtol=1e-5)
    assert_close(gradient_penalty(f, real, fake, one_sided=True), torch.clamp(norm - 1, min=0) ** 2, atol=1e-5, rtol=1e-5)


def test_norm_is_over_all_non_batch_dims():
    # critic(x) = sum(a * x) over (C, H, W): its input gradient is a, whose flattened norm we know.
    a = torch.arange(1.0, 13.0).reshape(1, 3, 2, 2) / 10

    class Bilinear(nn.Module):
        def forward(self, x):
            return (x * a).flatten(1).sum(1)

    norms = input_grad_norms(Bilinear(), torch.randn(4, 3, 2, 2))
    assert_close(norms, a.flatten().norm().expand(4), atol=1e-5, rtol=1e-5)


def test_interpolates_are_per_sample():
    # A critic whose input gradient is 2x (f = ||x||^2) sees ||grad|| = 2 ||x_hat||; with eps fixed we know x_hat.
    class Square(nn.Module):
        def forward(self, x):
            return x.pow(2).sum(1)

    real, fake = torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.zeros(2, 2)
    eps = torch.tensor([0.5, 0.25])
    # x_hat = [[0.5, 0], [0, 0.5]] -> norms [1, 1] -> penalty 0
    assert_close(gradient_penalty(Square(), real, fake, eps=eps), torch.tensor(0.0), atol=1e-6, rtol=0)
    eps = torch.tensor([1.0, 1.0])  # x_hat = real -> norms [2, 4] -> ((1)^2 + (3)^2) / 2 = 5
    assert_close(gradient_penalty(Square(), real, fake, eps=eps), torch.tensor(5.0), atol=1e-5, rtol=0)


def _fixed_gp(critic):
    g = torch.Generator().manual_seed(1)
    real, fake, eps = torch.randn(8, 2, generator=g), torch.randn(8, 2, generator=g), torch.rand(8, generator=g)
    return gradient_penalty(critic, real.double(), fake.double(), eps=eps.double())


def test_penalty_gradient_reaches_critic_parameters():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1)).double()
    grads = torch.autograd.grad(_fixed_gp(critic), list(critic.parameters()), allow_unused=True)
    assert all(torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads[:3])  # W1, b1, W2
    assert grads[3] is None  # the output bias does not change d critic / d x, so it gets no penalty gradient
    # Central finite difference on one weight: the gradient is the true second-order one.
    w, h = critic[0].weight, 1e-5
    with torch.no_grad():
        w[0, 0] += h
        up = _fixed_gp(critic)
        w[0, 0] -= 2 * h
        down = _fixed_gp(critic)
        w[0, 0] += h
    assert_close((up - down) / (2 * h), grads[0][0, 0], atol=1e-6, rtol=1e-5)


def test_clip_puts_every_parameter_in_the_box():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(2, 8), nn.LayerNorm(8), nn.Linear(8, 1))
    clip_weights_(critic, 0.01)
    for p in critic.parameters():
        assert p.abs().max() <= 0.01
    assert any((p.abs() == 0.01).any() for p in critic.parameters())  # something was actually clipped


def test_shape_mismatch_is_a_value_error():
    with pytest.raises(ValueError, match="differ in shape"):
        gradient_penalty(nn.Linear(2, 1), torch.zeros(3, 2), torch.zeros(4, 2))


@pytest.mark.parametrize("w", [[3.0, 4.0], [0.3, 0.4]])
def test_zero_centred_penalties_on_a_linear_critic(w):
    # ||grad f|| = ||w|| everywhere: R1 = R2 = GP-0 = ||w||^2, R1 + R2 = 2 ||w||^2, DRAGAN = (||w|| - 1)^2
    f = linear_critic(w)
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(16, 2, generator=g), torch.randn(16, 2, generator=g)
    sq = torch.tensor(w).pow(2).sum()
    for name, want in (("r1", sq), ("r2", sq), ("gp0", sq), ("r1r2", 2 * sq), ("dragan", (sq.sqrt() - 1) ** 2)):
        assert_close(penalty(name, f, real, fake, torch.Generator().manual_seed(1)), want, atol=1e-5, rtol=1e-5)


def test_r1_and_r2_look_at_their_own_batch():
    # f = ||x||^2 / 2 has gradient x: R1 = mean ||real||^2, R2 = mean ||fake||^2
    class Half(nn.Module):
        def forward(self, x):
            return 0.5 * x.pow(2).sum(1)

    real, fake = torch.tensor([[1.0, 0.0], [0.0, 3.0]]), torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    assert_close(penalty("r1", Half(), real, fake), torch.tensor(5.0))  # (1 + 9) / 2
    assert_close(penalty("r2", Half(), real, fake), torch.tensor(2.0))  # (4 + 0) / 2
    assert_close(penalty("r1r2", Half(), real, fake), torch.tensor(7.0))


def test_dragan_takes_its_penalty_between_the_data_and_its_perturbation():
    # Kodali et al.'s code: x_p = x + 0.5 s u (s: the batch's std, u ~ U[0, 1) per element), x_hat = x + alpha (x_p - x),
    # alpha ~ U[0, 1) per sample. With the quadratic critic f = c ||x||^2 / 2, grad f(x_hat) = c x_hat, so by hand:
    c = 3.0

    class Quadratic(nn.Module):
        def forward(self, x):
            return 0.5 * c * x.pow(2).sum(1)

    g = torch.Generator().manual_seed(5)
    real = torch.randn(4000, 2, generator=g)
    s = real.std(correction=0)  # over all 8,000 elements, ddof 0 as the reference's NumPy X.std()
    draws = torch.Generator().manual_seed(3)
    u = torch.rand(real.shape, generator=draws)  # drawn first
    alpha = torch.rand(len(real), generator=draws)  # then one weight per sample
    x_p = real + 0.5 * s * u
    x_hat = real + alpha[:, None] * (x_p - real)
    want = ((c * x_hat.norm(dim=1) - 1) ** 2).mean()
    got = penalty("dragan", Quadratic(), real, torch.zeros_like(real), torch.Generator().manual_seed(3))
    assert_close(got, want, atol=1e-5, rtol=1e-5)
    endpoint = ((c * x_p.norm(dim=1) - 1) ** 2).mean()  # the far end only: what the suite computed before
    assert not torch.isclose(got, endpoint, rtol=0.05)


def test_hinge_sn_critics_have_no_normalisation_layer_besides_spectral_norm():
    # SNGAN's critic (chainer-gan-lib SNDCGANDiscriminator): spectral normalisation of every layer and nothing else
    norms = (nn.GroupNorm, nn.LayerNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm2d)
    for dataset in ("8gaussians", "fashion-mnist"):
        config = RunConfig.preset("hinge-sn", dataset, width=8)
        _, critic = build_models(config, 1, 28)
        assert not [m for m in critic.modules() if isinstance(m, norms)], dataset
        layers = [m for m in critic.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
        assert layers and all(torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in layers), dataset
    assert RunConfig.preset("hinge-sn", "fashion-mnist").critic_norm == "none"
    assert RunConfig.preset("wgan-gp", "fashion-mnist").critic_norm == "layer"  # the others keep theirs


def test_penalty_of_a_constraint_without_one_is_zero():
    assert penalty("clip", nn.Linear(2, 1), torch.zeros(3, 2), torch.zeros(3, 2)).item() == 0.0
    with pytest.raises(ValueError, match="constraint: unknown 'r7'"):
        penalty("r7", nn.Linear(2, 1), torch.zeros(3, 2), torch.zeros(3, 2))


@pytest.mark.parametrize("name", [n for n, c in CONSTRAINTS.items() if c.penalises])
def test_every_penalty_gradient_matches_finite_differences(name):
    """Central finite differences of the penalty in every parameter of a small critic (float64), same random draws each time."""
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 1)).double()
    g = torch.Generator().manual_seed(5)
    real, fake = torch.randn(8, 2, generator=g).double(), torch.randn(8, 2, generator=g).double()

    def value():
        return penalty(name, critic, real, fake, torch.Generator().manual_seed(7))

    params = list(critic.parameters())
    grads = torch.autograd.grad(value(), params, allow_unused=True)
    h = 1e-6
    for p, gp in zip(params, grads):
        gp = torch.zeros_like(p) if gp is None else gp
        for idx in [tuple(0 for _ in p.shape), tuple(s - 1 for s in p.shape)]:
            with torch.no_grad():
                p[idx] += h
                up = value()
                p[idx] -= 2 * h
                down = value()
                p[idx] += h
            assert_close((up - down) / (2 * h), gp[idx], atol=1e-6, rtol=1e-4)


def test_toy_mlps_initialise_as_the_wgan_gp_toy_code():
    # tflib/ops/linear.py: hidden layers 'he' = U(+-sqrt(3) sqrt(2 / fan_in)); the output layer glorot =
    # U(+-sqrt(3) sqrt(2 / (fan_in + fan_out))); biases zero (igul222/improved_wgan_training gan_toy.py)
    import math

    config = RunConfig.preset("wgan-gp", "8gaussians", width=256)
    assert config.init == "he-glorot"
    for net in build_models(config):
        linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
        for i, m in enumerate(linears):
            fan_out, fan_in = m.weight.shape
            bound = math.sqrt(6 / fan_in) if i < len(linears) - 1 else math.sqrt(6 / (fan_in + fan_out))
            w = m.weight.detach()
            assert w.abs().max() <= bound and w.abs().max() > 0.95 * bound, (i, bound)  # fills its interval
            if w.numel() >= 1000:  # uniform: std = bound / sqrt(3)
                assert abs(w.std().item() - bound / math.sqrt(3)) < 0.05 * bound / math.sqrt(3), i
            assert (m.bias == 0).all()
    a, b = build_models(config), build_models(config)  # from the seed alone
    assert all(torch.equal(p, q) for p, q in zip(a[0].parameters(), b[0].parameters()))
    torch_default = build_models(config.replace(init="torch"))[1]
    assert not torch.equal(torch_default.net[0].bias, torch.zeros_like(torch_default.net[0].bias))  # PyTorch's default has biases
    assert RunConfig.preset("wgan-gp", "fashion-mnist").init == "dcgan"


def test_dragan_batch_std_is_numpys_ddof_0_per_member():
    from wgan_core.penalties import MemberStreams, batch_std

    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, over 4 elements
    assert_close(batch_std(x, None), torch.tensor(1.25).sqrt())  # not sqrt(5 / 3), the unbiased one
    stacked = torch.tensor([[1.0], [3.0], [10.0], [14.0]])  # two members of two samples: stds 1 and 2 (ddof 0)
    got = batch_std(stacked, MemberStreams([torch.Generator(), torch.Generator()]))
    assert_close(got, torch.tensor([[1.0], [1.0], [2.0], [2.0]]))
