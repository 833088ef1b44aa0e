"""PacGAN's 2-D networks (Lin et al. 2018, "PacGAN", sec. 5.1 / Table 1), as the authors' code builds them.

Source: fjxmlzn/PacGAN, synthetic_data_experiments/2DGrid_GAN&PacGAN/pacgan_task.py,
`create_model_brick` (lines ~42-100), with the sizes of config.py (lines ~15-24: gen_hidden_size 400,
disc_hidden_size 200, disc_maxout_pieces 5, weights_init_std 0.02, biases Constant(0)). The 2-D ring uses
the same config keys (2DRing_GAN&PacGAN/config.py) and 2DRing_ALI/pacgan_task.py builds the same decoder
and maxout critic. Their code is Theano/Blocks (mila-iqia/blocks); the PyTorch equivalents:

  generator (Blocks `MLP(dims=[z, 400, 400, 400, 400, 2], use_bias=False)` with activations
    `Sequence([BatchNormalization(400).apply, Rectifier().apply])` x 4 and `Identity` last; the last
    Linear's bias is switched back on after `push_allocation_config`, pacgan_task.py line ~94):
      z (N, 2) -> [Linear(no bias) -> BatchNorm -> ReLU] x 4 -> Linear(with bias) -> x (N, 2)
  critic (Blocks `Sequence` of 3 x `LinearMaxout(output_dim=200, num_pieces=5)` and `Linear(200, 1)`):
      x (N, 2m) -> [Linear(d, 200 * 5) -> max over 5 pieces] x 3 -> Linear(200, 1) -> scores (N,)
    no batch norm, no dropout (`_create_model(with_dropout=False)` for both graphs, lines ~123-125),
    no output non-linearity: the loss applies softplus to these logits (pacgan/bricks.py compute_losses).
    m is the packing degree (input_dim = num_xdim * num_packing); m = 1 is the plain GAN of Table 1.

A maxout unit j takes the max over the pre-activations j*pieces ... j*pieces + pieces - 1 (Blocks
`Maxout.apply` reshapes the last axis to (output_dim, num_pieces) and maximises over the last one).

Differences from Blocks' defaults, all in the generator's batch norm (the critic has none):
  * epsilon: Blocks' BatchNormalization uses 1e-4 (kept here); PyTorch's default is 1e-5.
  * population statistics: the authors average Blocks' minibatch mean and *stdev* sqrt(var + eps),
    new = 0.05 * batch + 0.95 * old (pacgan_task.py line ~149); PyTorch averages the mean and the
    *unbiased variance* with momentum 0.05 (kept), and adds eps at inference. Same weight 0.05; the
    inference-time normaliser differs by O(1/batch) and O(eps), not in kind.
Training uses batch statistics (their `with batch_normalization(gan)` graph); their 2,500 scored samples
are drawn from the inference graph (pacgan/extensions.py GraphLogger applies `gan.decoder` outside that
context), i.e. with the population statistics: call `.eval()` before scoring.
The population statistics move once per training iteration there: one forward serves both losses and
`algorithm.add_updates(bn_updates)` applies one update per step (pacgan_task.py `create_main_loop`). Our
loop forwards G twice per iteration (under no_grad for the critic step, with grad for the generator
step), so `PopulationBatchNorm` moves them only on the forward that trains G: once per iteration too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

BN_EPS = 1e-4  # Blocks BatchNormalization's default epsilon (blocks/bricks/bn.py)
BN_MOMENTUM = 0.05  # the authors' population-statistics update weight (pacgan_task.py, bn_updates)
INIT_STD = 0.02  # config.py weights_init_std: IsotropicGaussian(0.02) for every weight matrix


class PopulationBatchNorm(nn.BatchNorm1d):
    """BatchNorm1d whose population statistics move only on forwards that can train (grad enabled).

    In training mode every forward normalises with its batch's statistics; a forward under no_grad
    (the critic step's fakes) leaves running_mean, running_var and num_batches_tracked as they were,
    so they move once per generator iteration, as in PacGAN's code. x (N, F) -> (N, F).
    """

    def forward(self, x: Tensor) -> Tensor:
        if self.training and not torch.is_grad_enabled():
            return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)  # batch statistics, no update
        return super().forward(x)


class PacGANGenerator(nn.Module):
    """z (N, z_dim) -> x (N, out_dim): `depth` hidden layers Linear(no bias) -> BatchNorm -> ReLU, then Linear.

    PacGAN 2DGrid/2DRing decoder: z_dim 2 (config num_zdim; z ~ N(0, I_2): circle_gaussian_mixture with
    one mode, r 0, std 1), width 400, depth 4, out_dim 2. Hidden Linears have no bias (the batch norm's
    shift replaces it); the output Linear has one.
    """

    def __init__(self, z_dim: int = 2, width: int = 400, depth: int = 4, out_dim: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = z_dim
        for _ in range(depth):
            layers += [nn.Linear(d, width, bias=False), PopulationBatchNorm(width, eps=BN_EPS, momentum=BN_MOMENTUM), nn.ReLU()]
            d = width
        layers.append(nn.Linear(d, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)  # (N, z_dim) -> (N, out_dim)


class Maxout(nn.Module):
    """x (N, in_dim) -> (N, width): h = x W^T + b with h (N, width * pieces); out_j = max_k h[:, j * pieces + k].

    Goodfellow et al. 2013, "Maxout networks"; Blocks' `LinearMaxout` (a Linear to width * pieces, then
    `Maxout`, which groups consecutive pre-activations).
    """

    def __init__(self, in_dim: int, width: int, pieces: int) -> None:
        super().__init__()
        self.width, self.pieces = width, pieces
        self.linear = nn.Linear(in_dim, width * pieces)

    def forward(self, x: Tensor) -> Tensor:
        h = self.linear(x)  # (N, width * pieces)
        return h.view(*h.shape[:-1], self.width, self.pieces).amax(dim=-1)  # (N, width, pieces) -> (N, width)


class MaxoutCritic(nn.Module):
    """x (N, in_dim) -> scores (N,): `depth` maxout layers of `width` units with `pieces` pieces, then Linear(width, 1).

    PacGAN 2-D discriminator: in_dim 2 * packing (2 for the plain GAN), width 200, pieces 5, depth 3.
    Per-sample: no batch norm or dropout, so each score depends on its own row only (gradient
    penalties are well defined).
    """

    def __init__(self, in_dim: int = 2, width: int = 200, pieces: int = 5, depth: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = in_dim
        for _ in range(depth):
            layers.append(Maxout(d, width, pieces))
            d = width
        layers.append(nn.Linear(d, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)  # (N, in_dim) -> (N, 1) -> (N,)


def pacgan_init(net: nn.Module) -> None:
    """The authors' initialisation: every Linear weight ~ N(0, 0.02^2), every bias 0; batch-norm scale 1, shift 0.

    config.py: weights_init IsotropicGaussian(0.02) (Blocks: rng.normal(0, std)), biases_init Constant(0.0),
    pushed from the PacGAN brick to the decoder and set on each critic layer (pacgan_task.py lines ~63-92).
    Blocks' BatchNormalization is not Initializable and keeps its own scale_init Constant(1) and
    shift_init Constant(0) (blocks/bricks/bn.py), unlike DCGAN's N(1, 0.02) scales. Drawn module by
    module from torch's global generator (the caller seeds it).
    """
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Linear):
                m.weight.normal_(0.0, INIT_STD)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm1d):
                m.weight.fill_(1.0)
                m.bias.zero_()
                m.reset_running_stats()


__all__ = ["BN_EPS", "BN_MOMENTUM", "INIT_STD", "Maxout", "MaxoutCritic", "PacGANGenerator", "PopulationBatchNorm", "pacgan_init"]
