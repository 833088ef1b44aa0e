"""Gradient penalties against closed forms, weight clipping, and the penalty's reach into the critic."""

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from wgan_core.penalties import clip_weights_, gradient_penalty, input_grad_norms


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
