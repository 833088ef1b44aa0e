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
    for value in (critic_loss(loss, s, s.flip(0)), generator_loss(loss, s)):
        (g,) = torch.autograd.grad(value, s)
        assert torch.isfinite(value) and torch.isfinite(g).all()


def test_unknown_loss_names_the_field():
    with pytest.raises(ValueError, match="loss: unknown 'hinge'; allowed: minimax, nonsaturating, wasserstein"):
        critic_loss("hinge", torch.zeros(2), torch.zeros(2))
