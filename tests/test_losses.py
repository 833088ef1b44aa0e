"""Loss values computed by hand, and the saturation property that motivates the non-saturating GAN."""

import math

import pytest
import torch
from torch.testing import assert_close

from wgan_core.losses import LOSSES, critic_loss, generator_loss


def _sig(x):
    return 1 / (1 + math.exp(-x))


def test_minimax_critic_by_hand():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    # -(mean log D(real) + mean log(1 - D(fake)))
    want = -(math.log(_sig(2.0)) + math.log(_sig(-1.0))) / 2 - (math.log(1 - _sig(0.5)) + math.log(1 - _sig(-3.0))) / 2
    for loss in ("minimax", "nonsaturating"):
        assert_close(critic_loss(loss, real, fake), torch.tensor(want))


def test_generator_losses_by_hand():
    fake = torch.tensor([0.5, -3.0])
    assert_close(generator_loss("minimax", fake), torch.tensor((math.log(1 - _sig(0.5)) + math.log(1 - _sig(-3.0))) / 2))
    assert_close(generator_loss("nonsaturating", fake), torch.tensor(-(math.log(_sig(0.5)) + math.log(_sig(-3.0))) / 2))
    assert_close(generator_loss("wasserstein", fake), torch.tensor(1.25))


def test_wasserstein_critic_by_hand():
    real, fake = torch.tensor([[1.0], [3.0]]), torch.tensor([[0.5], [-0.5]])  # (N, 1) is accepted too
    assert_close(critic_loss("wasserstein", real, fake), torch.tensor(0.0 - 2.0))


def test_minimax_saturates_nonsaturating_does_not():
    # D(G(z)) ~ sigmoid(-20) ~ 2e-9: the discriminator confidently rejects the fake.
    s = torch.tensor([-20.0], requires_grad=True)
    (g_mm,) = torch.autograd.grad(generator_loss("minimax", s), s)
    (g_ns,) = torch.autograd.grad(generator_loss("nonsaturating", s), s)
    assert abs(g_mm.item()) < 1e-8  # vanishing gradient: -sigmoid(-20)
    assert_close(g_ns, torch.tensor([-1.0]), atol=1e-6, rtol=0)  # sigmoid(-20) - 1


@pytest.mark.parametrize("loss", list(LOSSES))
def test_losses_finite_at_extreme_logits(loss):
    s = torch.tensor([-1e4, 1e4, 0.0], requires_grad=True)
    for value in (critic_loss(loss, s, s.flip(0)), generator_loss(loss, s, s.flip(0))):
        (g,) = torch.autograd.grad(value, s)
        assert torch.isfinite(value) and torch.isfinite(g).all()


def test_unknown_loss_names_the_field():
    with pytest.raises(ValueError, match="loss: unknown 'hinge2'; allowed: minimax, nonsaturating, wasserstein, hinge"):
        critic_loss("hinge2", torch.zeros(2), torch.zeros(2))


def test_hinge_by_hand():
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-2.0, 0.0, 1.0])
    # relu(1 - real) = [0, 0.5, 2] -> 5/6; relu(1 + fake) = [0, 1, 2] -> 1
    assert_close(critic_loss("hinge", real, fake), torch.tensor(5 / 6 + 1.0))
    assert_close(generator_loss("hinge", fake), torch.tensor(-(-2.0 + 0.0 + 1.0) / 3))
    # beyond the margin the critic gets no gradient: real 2 > 1, fake -2 < -1
    s_real, s_fake = real.clone().requires_grad_(True), fake.clone().requires_grad_(True)
    g_real, g_fake = torch.autograd.grad(critic_loss("hinge", s_real, s_fake), (s_real, s_fake))
    assert_close(g_real, torch.tensor([0.0, -1 / 3, -1 / 3]))
    assert_close(g_fake, torch.tensor([0.0, 1 / 3, 1 / 3]))


def test_least_squares_by_hand():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])
    # 1/2 mean((real - 1)^2) = 1/2 * (0 + 4)/2 = 1; 1/2 mean(fake^2) = 1/2 * (0 + 4)/2 = 1
    assert_close(critic_loss("least-squares", real, fake), torch.tensor(2.0))
    # 1/2 mean((fake - 1)^2) = 1/2 * (1 + 9)/2 = 2.5
    assert_close(generator_loss("least-squares", fake), torch.tensor(2.5))


def test_relativistic_by_hand():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, 1.0])
    # critic: mean softplus(-(real - fake)) = mean softplus([-1.5, 2.0])
    sp = lambda x: math.log1p(math.exp(x))  # noqa: E731
    assert_close(critic_loss("relativistic", real, fake), torch.tensor((sp(-1.5) + sp(2.0)) / 2))
    # generator: mean softplus(-(fake - real)) = mean softplus([1.5, -2.0]); pairs by position
    assert_close(generator_loss("relativistic", fake, real), torch.tensor((sp(1.5) + sp(-2.0)) / 2))
    with pytest.raises(ValueError, match="needs the real scores"):
        generator_loss("relativistic", fake)


def test_generator_score_gradients_in_the_saturated_regime():
    """Where the critic rejects the fakes (score -20), per-sample |dL_G/ds|: minimax ~0, the others about 1."""
    s = torch.full((4,), -20.0, requires_grad=True)
    real = torch.full((4,), 20.0)
    want = {"minimax": 0.0, "nonsaturating": 1.0, "wasserstein": 1.0, "hinge": 1.0, "least-squares": 21.0, "relativistic": 1.0}
    for loss, value in want.items():
        (g,) = torch.autograd.grad(generator_loss(loss, s, real), s)
        assert_close((g.abs() * len(s)).mean(), torch.tensor(value), atol=1e-6, rtol=1e-6)
