"""One frozen, typed RunConfig per run; the five named variants and their sourced defaults."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from .data.registry import dataset_kind, get_dataset
from .errors import ConfigError, lookup
from .losses import get_loss
from .models.init import INITS
from .models.registry import get_architecture
from .penalties import get_constraint
from .plugins import load_plugins


@dataclass(frozen=True)
class Variant:
    """A named variant: a registered loss and constraint, and the RunConfig defaults its source uses per data kind."""

    loss: str
    constraint: str
    image: dict[str, Any] = field(default_factory=dict)  # defaults for image data, from the variant's source
    toy: dict[str, Any] = field(default_factory=dict)  # defaults for the 2-D toy data
    source: str = ""  # where these defaults come from: required at registration

    def defaults_for(self, data_kind: str) -> dict[str, Any]:
        """The variant's defaults for a data kind (a data set's registry entry names its kind); none for another kind."""
        return {"toy": self.toy, "image": self.image}.get(data_kind, {})


# Toy defaults: gan_toy.py of the WGAN-GP code (Gulrajani et al. 2017): DIM 512,
# BATCH_SIZE 256, CRITIC_ITERS 5, LAMBDA 0.1, Adam(1e-4, beta1 0.5, beta2 0.9);
# its 'wgan' mode uses RMSprop(5e-5) and clipping at 0.01.
_TOY_ADAM = dict(optimizer="adam", lr_g=1e-4, lr_d=1e-4, beta1=0.5, beta2=0.9, penalty_weight=0.1)
_IMG_DCGAN = dict(optimizer="adam", lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999, n_critic=1)
_IMG_WGAN_GP = dict(optimizer="adam", lr_g=1e-4, lr_d=1e-4, beta1=0.0, beta2=0.9, n_critic=5, penalty_weight=10.0)

VARIANTS: dict[str, Variant] = {
    "gan": Variant(
        "minimax", "none", _IMG_DCGAN, {**_TOY_ADAM, "n_critic": 1},
        "images: DCGAN (Radford et al. 2016) Adam 2e-4, betas (0.5, 0.999), k=1 as in Goodfellow et al. 2014; "
        "toy: the WGAN-GP toy code's Adam settings with k=1",
    ),
    "nsgan": Variant(
        "nonsaturating", "none", _IMG_DCGAN, {**_TOY_ADAM, "n_critic": 1},
        "as gan (Goodfellow et al. 2014, non-saturating generator loss)",
    ),
    "wgan-clip": Variant(
        "wasserstein", "clip",
        dict(optimizer="rmsprop", lr_g=5e-5, lr_d=5e-5, n_critic=5, clip_value=0.01),
        dict(optimizer="rmsprop", lr_g=5e-5, lr_d=5e-5, n_critic=5, clip_value=0.01),
        "WGAN (Arjovsky et al. 2017, Alg. 1): RMSprop 5e-5, n_critic 5, c 0.01; same in the WGAN-GP toy code",
    ),
    "wgan-gp": Variant(
        "wasserstein", "gp", _IMG_WGAN_GP, {**_TOY_ADAM, "n_critic": 5},
        "WGAN-GP (Gulrajani et al. 2017, Alg. 1): lambda 10, Adam 1e-4, betas (0, 0.9), n_critic 5; "
        "toy: gan_toy.py, lambda 0.1, betas (0.5, 0.9)",
    ),
    "wgan-lp": Variant(
        "wasserstein", "lp", _IMG_WGAN_GP, {**_TOY_ADAM, "n_critic": 5},
        "one-sided penalty (Petzka et al. 2018) with the WGAN-GP settings, so the two penalties are matched",
    ),
    # Beyond the five: the objectives the field compares them with. Image defaults from each method's reference code,
    # cited file by file. Toy defaults were chosen here by one rule, not tuned: the WGAN-GP toy code's Adam (1e-4,
    # betas (0.5, 0.9)) with one critic step, as gan/nsgan use on the toy data, and the image penalty weight divided
    # by 100, the factor between the WGAN-GP toy code's lambda (0.1) and its image lambda (10).
    "hinge-sn": Variant(
        "hinge", "none", {**_IMG_DCGAN, "spectral_norm": True, "critic_norm": "none"}, {**_TOY_ADAM, "n_critic": 1, "spectral_norm": True},
        "SNGAN (Miyato et al. 2018): the hinge loss with spectral normalisation of every critic layer and no other "
        "normalisation (the critic: pfnet-research/chainer-gan-lib common/net.py SNDCGANDiscriminator); Adam 2e-4, "
        "betas (0.5, 0.999), n_dis 1 (chainer-gan-lib example.sh, sndcgan; their Table 1 setting C). That example trains "
        "the SN critic with the standard loss; the hinge + SN pairing is pfnet-research/sngan_projection's (updater "
        "loss_type hinge), whose configs use ResNets with Adam 2e-4, betas (0, 0.9), n_dis 5 (configs/"
        "sn_cifar10_unconditional.yml), not this DCGAN setting; toy: the rule above (the toy MLP has no normalisation layers)",
    ),
    "lsgan": Variant(
        "least-squares", "none", _IMG_DCGAN, {**_TOY_ADAM, "n_critic": 1},
        "LSGAN (Mao et al. 2017), a=0, b=c=1: the DCGAN optimiser it builds on (Adam 2e-4, beta1 0.5); toy: the rule above",
    ),
    "nsgan-r1": Variant(
        "nonsaturating", "r1", dict(optimizer="rmsprop", lr_g=1e-4, lr_d=1e-4, n_critic=1, penalty_weight=10.0),
        {**_TOY_ADAM, "n_critic": 1, "penalty_weight": 0.1},
        "Mescheder et al. 2018 as their code runs it (LMescheder/GAN_stability): non-saturating loss ('standard') + R1, "
        "reg_param 10 times E||grad D(x)||^2 with no 1/2 (gan_training/train.py), RMSprop 1e-4 for both nets, one critic "
        "step (configs/default.yaml); toy: the rule above",
    ),
    "dragan": Variant(
        "nonsaturating", "dragan", dict(optimizer="adam", lr_g=1e-4, lr_d=1e-4, beta1=0.5, beta2=0.9, n_critic=1, penalty_weight=10.0),
        {**_TOY_ADAM, "n_critic": 1, "penalty_weight": 0.1},
        "DRAGAN (Kodali et al. 2017) as its reference code (kodalinaveen3/DRAGAN, DRAGAN.ipynb): non-saturating loss, lambda 10 "
        "at x + alpha (x_p - x), x_p = x + 0.5 std(x) u; Adam 1e-4, betas (0.5, 0.9), one critic step; toy: the rule above",
    ),
    "r3gan": Variant(
        "relativistic", "r1r2", dict(optimizer="adam", lr_g=2e-4, lr_d=2e-4, beta1=0.0, beta2=0.9, n_critic=1, penalty_weight=0.025),
        {**_TOY_ADAM, "n_critic": 1, "penalty_weight": 0.00025},
        "R3GAN (Huang et al. 2024): relativistic pairing + (gamma/2)(R1 + R2) (Trainer.py), so penalty_weight = gamma/2; its CIFAR-10 "
        "configuration (brownvc/R3GAN train.py, read in a fork) decays lr 2e-4 -> 5e-5, gamma 0.05 -> 0.005 and raises beta2 "
        "0.9 -> 0.99 on a cosine schedule over 20M images, far beyond our runs: we hold the schedules' start values constant "
        "(lr 2e-4, gamma 0.05, beta2 0.9; beta1 0), a choice made here; one critic step; toy: the rule above",
    ),
}

# Each architecture's initialisation is its registry entry's (wgan_core.models.registry: `init`; the formulas in
# wgan_core.models.init): the toy MLPs as the WGAN-GP toy code (He-uniform hidden layers, a Glorot-uniform output
# layer, zero biases), the DCGANs as DCGAN (N(0, 0.02) weights, N(1, 0.02) norm scales).


C = TypeVar("C", bound="JsonConfig")


class JsonConfig:
    """JSON in and out, typed values, field-checked replace and a content hash: shared by RunConfig and depth.DepthConfig.

    Subclasses are frozen dataclasses; `_what` names them in error messages. Every value
    coming from JSON or the command line goes through `coerce`, which checks it against
    the field's type (the type of its default). `_hash_omit_defaults` lists fields added
    after runs existed: left out of `run_id()` while at their default, so the directories
    of runs made before the field existed keep their names.
    """

    _what = "config"
    _hash_omit_defaults: tuple[str, ...] = ()
    _hash_omit_values: dict[str, tuple[Any, ...]] = {}
    _not_identity: tuple[str, ...] = ()  # how a run is watched, not what it computes: out of run_id and diff

    @classmethod
    def field_types(cls) -> dict[str, type]:
        return {f.name: type(f.default) for f in fields(cls)}  # type: ignore[arg-type]

    @classmethod
    def coerce(cls, name: str, value: Any) -> Any:
        """Check a JSON or command-line value against the field's type (ints are accepted as floats)."""
        want = cls.field_types()[name]
        if want is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
                return value.lower() in ("true", "1", "yes")
            raise ConfigError(f"{name}: expected true or false, got {value!r}")
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, want) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return want(value)
            except ValueError:
                pass
        raise ConfigError(f"{name}: expected {want.__name__}, got {value!r}")

    @classmethod
    def parse_set(cls, items: list[str]) -> dict[str, Any]:
        """Parse ['key=value', ...] from --set into typed overrides."""
        types = cls.field_types()
        out: dict[str, Any] = {}
        for item in items:
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or not key:
                raise ConfigError(f"--set: expected key=value, got {item!r}")
            if key not in types:
                raise ConfigError(f"--set: unknown field {key!r}; allowed: {', '.join(types)}")
            out[key] = cls.coerce(key, value.strip())
        return out

    def _check_types(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            self.coerce(f.name, getattr(self, f.name))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def _check_names(cls, names: Any, hint: str = "") -> None:
        unknown = set(names) - {f.name for f in fields(cls)}  # type: ignore[arg-type]
        if unknown:
            raise ConfigError(f"unknown {cls._what} field(s): {', '.join(sorted(unknown))}{hint}")

    @classmethod
    def from_dict(cls: type[C], d: dict[str, Any]) -> C:
        if not isinstance(d, dict):
            raise ConfigError(f"{cls._what}: expected a JSON object, got {type(d).__name__}")
        cls._check_names(d)
        return cls(**{k: cls.coerce(k, v) for k, v in d.items()})

    @classmethod
    def from_json(cls: type[C], text_or_path: str | Path) -> C:
        text = Path(text_or_path).read_text() if isinstance(text_or_path, Path) else text_or_path
        return cls.from_dict(json.loads(text))

    def replace(self: C, **changes: Any) -> C:
        self._check_names(changes, f"; allowed: {', '.join(f.name for f in fields(self))}")  # type: ignore[arg-type]
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def run_id(self) -> str:
        """12 hex digits of the SHA-256 of the canonical JSON: equal configs, equal directories."""
        d = self.to_dict()
        defaults = {f.name: f.default for f in fields(self)}  # type: ignore[arg-type]
        for name in self._hash_omit_defaults:
            if d.get(name) == defaults[name]:
                del d[name]
        for name, values in self._hash_omit_values.items():
            if d.get(name) in values:
                del d[name]
        for name in self._not_identity:
            d.pop(name, None)
        canon = json.dumps(d, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canon.encode()).hexdigest()[:12]

    def diff(self: C, other: C) -> list[str]:
        """Names of the fields whose values differ."""
        return [f.name for f in fields(self) if f.name not in self._not_identity and getattr(self, f.name) != getattr(other, f.name)]  # type: ignore[arg-type]


@dataclass(frozen=True)
class RunConfig(JsonConfig):
    """Everything that determines a run. JSON in and out; `run_id()` names its directory."""

    variant: str = "wgan-gp"  # preset the defaults came from (see VARIANTS); a label once overridden
    loss: str = "wasserstein"  # a registered loss: minimax | nonsaturating | wasserstein | ... (wgan_core.losses)
    constraint: str = "gp"  # a registered constraint: none | clip | gp | lp | ... (wgan_core.penalties)
    dataset: str = "8gaussians"  # a registered data set: 8gaussians | 25gaussians | swissroll | fashion-mnist | ... | folder:PATH
    steps: int = 2000  # generator iterations
    seed: int = 0  # same seed => same initial weights, data order and noise for every variant
    batch_size: int = 256  # samples per critic step and per generator step
    n_critic: int = 5  # critic updates per generator update
    optimizer: str = "adam"  # adam | rmsprop (both networks)
    lr_g: float = 1e-4  # generator learning rate
    lr_d: float = 1e-4  # critic learning rate
    beta1: float = 0.5  # Adam beta1 (ignored by RMSprop)
    beta2: float = 0.9  # Adam beta2 (ignored by RMSprop)
    penalty_weight: float = 0.1  # lambda: weight of the constraint's penalty (gp, lp, r1, r2, r1r2, gp0, dragan)
    clip_value: float = 0.01  # c of weight clipping (clip)
    arch: str = "auto"  # a registered architecture: mlp (toy) | dcgan (images) | ...; auto = the data set's (stored resolved)
    width: int = 512  # MLP hidden width, or DCGAN base channel count
    z_dim: int = 2  # latent dimension
    resolution: int = 0  # image side in pixels: 28, 32 or 64; 0 = the data set's own
    critic_norm: str = "layer"  # DCGAN critic normalisation: layer | none | batch (batch not with penalties)
    init: str = "auto"  # weight initialisation: he-glorot | dcgan | torch; auto = the architecture's reference (stored resolved)
    eval_every: int = 250  # generator iterations between evaluations (a row of metrics.csv)
    eval_samples: int = 2500  # generated samples per evaluation (toy metrics use 2,500)
    checkpoint_every: int = 500  # generator iterations between checkpoints
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: str = "none"  # none | bf16 (autocast of the forward passes; penalties' norms stay fp32)
    channels_last: bool = False  # channels_last memory format for the DCGAN models and data
    compile: bool = False  # torch.compile the generator (and a penalty-free critic)
    data_dir: str = ""  # data root; '' = $WGAN_DATA_DIR or the Debian location
    download: bool = False  # let torchvision download the data set (needs internet)
    data_limit: int = 0  # train on the first N training images only (0 = all); for quick runs and tests
    extractor: str = "classifier"  # image metrics' feature network: classifier (offline) | inception | none (no FID/KID)
    mode_samples: int = 26000  # image data with modes (stacked-mnist): samples scored for modes / reverse_kl at the end (VEEGAN's 26,000)
    final_eval_samples: int = 10000  # images: fakes for the final FID/KID (against the 10,000-image test split)
    plugins: str = ""  # comma-separated modules or .py files that register losses/constraints; imported first, also by workers
    spectral_norm: bool = False  # spectral normalisation of every critic layer (Miyato et al. 2018), composable with any objective
    penalty_every: int = 1  # lazy regularisation (StyleGAN2): the penalty on every k-th critic step only, weighted by k
    tensorboard: bool = False  # also write TensorBoard event files (OUT/tensorboard) at every evaluation; metrics.csv stays the record

    # Fields added after runs existed: out of the run id while at their default, so old run directories keep their names.
    _hash_omit_defaults = ("plugins", "spectral_norm", "penalty_every", "mode_samples")
    # ... and fields whose listed values compute what runs made before the field existed computed (DCGANs were
    # always initialised as DCGAN; the toy MLPs used PyTorch's default, so their run ids change with the reference init).
    _hash_omit_values = {"init": ("dcgan",)}
    _not_identity = ("tensorboard",)  # watching a run does not change it: same run id, resumable with it on or off

    def __post_init__(self) -> None:
        if isinstance(self.plugins, str):
            load_plugins(self.plugins)  # before the names are resolved: plug-ins may register the data set or architecture
        if self.arch == "auto" and isinstance(self.dataset, str):
            object.__setattr__(self, "arch", get_dataset(self.dataset).arch)
        if self.init == "auto" and isinstance(self.arch, str) and self.arch != "auto":
            object.__setattr__(self, "init", get_architecture(self.arch).init)
        _validate(self)

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def preset(cls, variant: str = "wgan-gp", dataset: str = "8gaussians", **overrides: Any) -> RunConfig:
        """The named variant's sourced defaults for this kind of data, then `overrides`."""
        if variant not in VARIANTS:
            raise ConfigError(f"variant: unknown {variant!r}; allowed: {', '.join(VARIANTS)}")
        data = get_dataset(dataset)
        spec = VARIANTS[variant]
        values: dict[str, Any] = dict(variant=variant, loss=spec.loss, constraint=spec.constraint, dataset=dataset)
        # the data set's arch (or the one asked for) and its defaults, the data set's run defaults, then the variant's
        arch = get_architecture(overrides.get("arch", data.arch) if overrides.get("arch", "auto") != "auto" else data.arch)
        values.update(arch=data.arch, **arch.defaults, **data.run_defaults())
        values.update(spec.defaults_for(data.kind))
        cls._check_names(overrides, "; see `python -m wgan_core variants`")
        values.update(overrides)
        return cls(**values)

    # ---- derived ------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return dataset_kind(self.dataset)

    @property
    def label(self) -> str:
        """The variant name, or 'loss+constraint' when overrides made it another cell of the cross."""
        spec = VARIANTS.get(self.variant)
        if spec is not None and (spec.loss, spec.constraint) == (self.loss, self.constraint):
            return self.variant
        return f"{self.loss}+{self.constraint}"


FIELD_TYPES: dict[str, type] = RunConfig.field_types()


def register_variant(name: str, variant: Variant) -> Variant:
    """Make a named variant (a loss, a constraint and their sourced defaults) available to presets, studies and the CLI.

    `variant.image` and `variant.toy` are RunConfig fields set for image and for 2-D toy data (what the
    variant's paper or code uses); the loss and constraint must be registered. Registering a
    name again replaces it (a plug-in module may be imported twice). Returns the entry.
    """
    if not isinstance(name, str) or not name or "," in name:
        raise ConfigError(f"register_variant: name must be a non-empty string without commas, got {name!r}")
    if not isinstance(variant, Variant):
        raise ConfigError(f"register_variant: {name!r} needs a Variant(loss=..., constraint=..., source=...), got {type(variant).__name__}")
    for kind, defaults in (("image", variant.image), ("toy", variant.toy)):
        if not isinstance(defaults, dict):
            raise ConfigError(f"register_variant: {kind} defaults of {name!r} must be a dict of RunConfig fields, got {type(defaults).__name__}")
    get_loss(variant.loss), get_constraint(variant.constraint)  # one-line errors naming the registered ones
    if not isinstance(variant.source, str) or not variant.source:
        raise ConfigError(f"register_variant: source of {name!r}: say where its defaults come from (a paper, or 'this project')")
    for kind, defaults in (("image", variant.image), ("toy", variant.toy)):
        unknown = sorted(set(defaults) - set(FIELD_TYPES) - {"variant", "loss", "constraint"})
        if unknown or {"variant", "loss", "constraint"} & set(defaults):
            bad = unknown or sorted({"variant", "loss", "constraint"} & set(defaults))
            raise ConfigError(f"register_variant: {kind} defaults of {name!r}: {', '.join(bad)} not settable; "
                              f"allowed: RunConfig fields but variant, loss, constraint")
    entry = Variant(variant.loss, variant.constraint, dict(variant.image), dict(variant.toy), variant.source)
    VARIANTS[name] = entry
    return entry


def get_variant(name: str) -> Variant:
    return lookup(VARIANTS, name, "variant")


def variant_names() -> tuple[str, ...]:
    return tuple(VARIANTS)


def parse_set(items: list[str]) -> dict[str, Any]:
    """Parse ['key=value', ...] from --set into typed RunConfig overrides."""
    return RunConfig.parse_set(items)


def _validate(c: RunConfig) -> None:
    def need(ok: bool, message: str) -> None:
        if not ok:
            raise ConfigError(message)

    c._check_types()  # types first, so the checks below compare like with like
    load_plugins(c.plugins)  # user code that registers losses/constraints, before their names are checked
    get_loss(c.loss)  # ConfigError naming the registered losses
    constraint = get_constraint(c.constraint)
    kind = dataset_kind(c.dataset)
    need(c.steps > 0, f"steps: must be a positive integer, got {c.steps}")
    need(c.batch_size > 0, f"batch_size: must be a positive integer, got {c.batch_size}")
    need(c.n_critic > 0, f"n_critic: must be a positive integer, got {c.n_critic}")
    need(c.optimizer in ("adam", "rmsprop"), f"optimizer: unknown {c.optimizer!r}; allowed: adam, rmsprop")
    for name in ("lr_g", "lr_d"):
        v = getattr(c, name)
        need(v > 0 and v == v and v != float("inf"), f"{name}: must be a positive finite number, got {v}")
    for name in ("beta1", "beta2"):
        v = getattr(c, name)
        need(0.0 <= v < 1.0, f"{name}: must lie in [0, 1), got {v}")
    need(c.penalty_weight >= 0, f"penalty_weight: lambda must be >= 0, got {c.penalty_weight}")
    need(c.clip_value > 0, f"clip_value: c must be > 0, got {c.clip_value}")
    arch = get_architecture(c.arch)  # ConfigError naming the registered architectures
    need(arch.data_kind == kind, f"arch: {c.arch} takes {arch.data_kind} data and {c.dataset!r} is {kind} data; use arch={get_dataset(c.dataset).arch}")
    need(c.width > 0, f"width: must be a positive integer, got {c.width}")
    need(c.z_dim > 0, f"z_dim: must be a positive integer, got {c.z_dim}")
    sizes = "".join(f", {r}" for r in arch.resolutions)
    need(c.resolution == 0 or c.resolution in arch.resolutions, f"resolution: must be 0 (the data set's own){sizes} for arch {c.arch}, got {c.resolution}")
    need(c.init in INITS, f"init: unknown {c.init!r}; allowed: auto, {', '.join(INITS)}")
    need(c.critic_norm in ("layer", "none", "batch"), f"critic_norm: unknown {c.critic_norm!r}; allowed: layer, none, batch")
    need(
        not (c.critic_norm == "batch" and constraint.penalises),
        "critic_norm: batch norm couples the samples of a batch, so it cannot be used with a per-sample "
        f"gradient penalty (constraint {c.constraint}); use layer or none",
    )
    need(c.penalty_every > 0, f"penalty_every: must be a positive integer (1 = every critic step), got {c.penalty_every}")
    need(c.eval_every > 0, f"eval_every: must be a positive integer, got {c.eval_every}")
    need(c.eval_samples >= 10, f"eval_samples: must be at least 10, got {c.eval_samples}")
    need(c.checkpoint_every > 0, f"checkpoint_every: must be a positive integer, got {c.checkpoint_every}")
    need(re.fullmatch(r"auto|cpu|cuda(:\d+)?", c.device) is not None, f"device: unknown {c.device!r}; allowed: auto, cpu, cuda, cuda:N")
    need(c.data_limit >= 0, f"data_limit: must be >= 0 (0 = all), got {c.data_limit}")
    need(c.extractor in ("classifier", "inception", "none"), f"extractor: unknown {c.extractor!r}; allowed: classifier, inception, none")
    need(
        not (c.dataset.startswith("folder:") and c.extractor == "classifier"),
        "extractor: a folder: data set has no labels to train the classifier extractor on; "
        "use --set extractor=inception (with WGAN_INCEPTION_WEIGHTS) or --set extractor=none",
    )
    need(c.mode_samples >= 10, f"mode_samples: must be at least 10, got {c.mode_samples}")
    need(c.final_eval_samples >= 10, f"final_eval_samples: must be at least 10, got {c.final_eval_samples}")
    need(c.amp in ("none", "bf16"), f"amp: unknown {c.amp!r}; allowed: none, bf16")


def describe_variants() -> str:
    """Human-readable table of the variants and their defaults (for `python -m wgan_core variants`)."""
    lines = []
    for name, v in VARIANTS.items():
        lines.append(f"{name}: loss={v.loss} constraint={v.constraint}")
        lines.append(f"  images: {_fmt(v.image)}")
        lines.append(f"  toy:    {_fmt(v.toy)}")
        lines.append(f"  source: {v.source}")
    from .models.registry import ARCHITECTURES

    lines.append("architecture defaults: " + "; ".join(f"{k}: {_fmt(a.defaults)}" for k, a in ARCHITECTURES.items()))
    lines.append("any field can be overridden with --set key=value, e.g. --variant nsgan --set constraint=gp")
    return "\n".join(lines)


def _fmt(d: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in d.items())

