"""One recipe per application of the notes: the dataset, the models it is tuned for and their
training options. ``convrec tasks`` lists them; ``convrec train NAME`` runs one."""

from __future__ import annotations

from typing import Any, ClassVar

from convrec.tasks.audio import SpokenClassification, StreamingSpokenClassification
from convrec.tasks.base import register_task
from convrec.tasks.classification import Classification, ImageClassification
from convrec.tasks.forecasting import Forecasting
from convrec.tasks.language import LanguageModelling
from convrec.tasks.series import SERIES_MODELS
from convrec.tasks.text_files import TEXT_MODELS, TextRecipe

Recipes = dict[str, dict[str, Any]]

SPOKEN_MODELS: Recipes = {
    "crnn": {"epochs": 30, "batch_size": 64, "lr": 3e-3},
    "resnet": {"epochs": 30, "batch_size": 64, "lr": 3e-3},
}
"""Training options of the clip classifiers on speech (a user's own audio folders too)."""

_IMAGE_MODELS: Recipes = {
    "lenet5": {"epochs": 12, "batch_size": 128, "lr": 2e-3},
    "resnet": {"epochs": 8, "batch_size": 128, "lr": 3e-3, "weight_decay": 5e-4},
    "vgg": {"epochs": 8, "batch_size": 128, "lr": 3e-3, "weight_decay": 5e-4},
    "mlp": {"epochs": 15, "batch_size": 128, "lr": 1e-3},
}


@register_task
class FashionMNIST(ImageClassification):
    """Zalando's 28x28 clothing images, 10 classes."""

    name = "fashion-mnist"
    description = "Fashion-MNIST clothing images (10 classes): image classification"
    dataset = "fashion-mnist"
    default_model = "lenet5"
    models = _IMAGE_MODELS | {
        # The headline ResNet, beyond the ten-minute budget (about half an hour on 2 CPU cores):
        # twice the default widths, flips and shifted crops, one-cycle, channels-last weights.
        "resnet": {
            "epochs": 12,
            "batch_size": 128,
            "lr": 3e-3,
            "weight_decay": 5e-4,
            "schedule": "one-cycle",
            "channels_last": True,
            "model_options": {"widths": (16, 32, 64)},
            "task_options": {"augment": "flip+crop"},
        },
    }


@register_task
class MNIST5k(ImageClassification):
    """5,000 handwritten digits of MNIST (OpenML's mnist_784 subset in DATA.md)."""

    name = "mnist-5k"
    description = "5,000 MNIST handwritten digits: image classification"
    dataset = "mnist-5k"
    default_model = "lenet5"
    models = _IMAGE_MODELS | {"lenet5": {"epochs": 20, "batch_size": 64, "lr": 2e-3}}


@register_task
class MNISTFewLabels(Classification):
    """MNIST-5k with only ``labels_per_class`` training labels: the target of the transfer
    recipe (``--finetune RUN --freeze backbone`` from a Fashion-MNIST run)."""

    name = "mnist-few"
    description = "MNIST with 10 labels per class: transfer learning from Fashion-MNIST"
    dataset = "mnist-5k"
    default_model = "lenet5"
    models: ClassVar[Recipes] = {
        name: {"epochs": 60, "batch_size": 20, "lr": 2e-3} for name in _IMAGE_MODELS
    }

    def __init__(self, root: str | None = None, labels_per_class: int = 10, **options: Any):
        super().__init__(root, labels_per_class, **options)


@register_task
class Digits(Classification):
    """scikit-learn's 8x8 digits (UCI optical recognition), 1,797 images."""

    name = "digits"
    description = "8x8 handwritten digits (UCI): image classification"
    dataset = "digits"
    default_model = "resnet"
    models: ClassVar[Recipes] = {
        "resnet": {"epochs": 30, "batch_size": 64, "lr": 3e-3},
        "vgg": {"epochs": 30, "batch_size": 64, "lr": 3e-3},
        "mlp": {"epochs": 60, "batch_size": 64, "lr": 1e-3},
    }


@register_task
class MNIST1D(Classification):
    """MNIST-1D: 40-sample 1-D digit signals, shifted, scaled and noisy (Greydanus 2020); the
    notes' shift-invariance example for 1-D convolutions."""

    name = "mnist1d"
    description = "MNIST-1D signals (10 classes): CNN vs GRU vs MLP"
    dataset = "mnist1d"
    default_model = "resnet"
    models: ClassVar[Recipes] = {
        "resnet": {"epochs": 60, "batch_size": 64, "lr": 3e-3, "weight_decay": 1e-4},
        "fcn": {"epochs": 60, "batch_size": 64, "lr": 3e-3},
        "gru": {
            "epochs": 60,
            "batch_size": 64,
            "lr": 3e-3,
            "model_options": {"hidden_size": 128, "num_layers": 2, "return_sequences": False},
        },
        "mlp": {
            "epochs": 120,
            "batch_size": 64,
            "lr": 3e-3,
            "weight_decay": 1e-4,
            "model_options": {"hidden_sizes": (512, 512), "dropout": 0.5},
        },
    }


def _series(
    name: str,
    title: str,
    model: str,
    models: Recipes = SERIES_MODELS,
    standardise_each_series: bool = False,
) -> None:
    """Register a time-series classification recipe on the dataset ``name``."""
    attributes = {
        "__doc__": f"{title} (UCR/UEA archive, sktime's copy).",
        "name": name,
        "description": f"{title}: time-series classification",
        "dataset": name,
        "default_model": model,
        "models": models,
        "standardise_each_series": standardise_each_series,
    }
    class_name = "".join(part.title() for part in name.split("-"))
    register_task(type(class_name, (Classification,), attributes))


_series("basic-motions", "BasicMotions activity recognition (accelerometer and gyroscope)", "fcn")
_series("japanese-vowels", "JapaneseVowels speakers (variable length, 12 LPC channels)", "fcn")
_series(
    "plaid",
    "PLAID appliance current signatures (variable length)",
    "fcn",
    {
        name: options | {"bucket_by_length": True, "epochs": 40}
        for name, options in SERIES_MODELS.items()
    },
    standardise_each_series=True,  # currents from 0.01 to 460 A: one scale would flatten most
)
_series("italy-power", "ItalyPowerDemand daily load curves", "fcn")
_series(
    "gunpoint",
    "GunPoint hand movements",
    "fcn",
    SERIES_MODELS | {"fcn": {"epochs": 400, "batch_size": 16, "lr": 1e-3}},
)


@register_task
class Keywords(SpokenClassification):
    """Ten spoken keywords plus unknown words and silence, synthesised with espeak-ng; the test
    voices never occur in training."""

    name = "keywords"
    description = "keyword spotting (espeak-ng speech, MFCC front end, held-out voices)"
    dataset = "keywords"
    default_model = "crnn"
    models: ClassVar[Recipes] = SPOKEN_MODELS | {
        # Chosen on the validation voices' loss (0.055 against 0.116 without; benchmarks.md).
        "crnn": SPOKEN_MODELS["crnn"]
        | {"task_options": {"perturb_voices": True, "spec_augment": True}},
    }


@register_task
class StreamingKeywords(StreamingSpokenClassification):
    """The keywords of :class:`Keywords` for a stream: framewise MFCCs and a unidirectional GRU,
    which ``convrec stream RUN long.wav`` runs 20 ms at a time."""

    name = "keywords-stream"
    description = "keyword spotting on a stream (framewise MFCCs, causal GRU, held-out voices)"
    dataset = "keywords"
    default_model = "gru"
    models: ClassVar[Recipes] = {
        "gru": {
            "epochs": 20,
            "batch_size": 64,
            "lr": 3e-3,
            "model_options": {"hidden_size": 128, "num_layers": 2, "return_sequences": False},
            # The keyword recipe's augmentation, chosen again on the validation voices' loss
            # (0.067 against 0.094 without; benchmarks.md).
            "task_options": {"perturb_voices": True, "spec_augment": True},
        },
    }


@register_task
class Welcome(SpokenClassification):
    """Is "welcome" said anywhere in a 3 s recording? The notes' argument for shift invariance:
    an MLP must learn the word at every position, a CNN with global pooling learns it once."""

    name = "welcome"
    description = "'welcome' anywhere in a 3 s recording: MLP vs CNN with global pooling"
    dataset = "welcome"
    default_model = "resnet"
    models: ClassVar[Recipes] = {
        "resnet": {"epochs": 30, "batch_size": 32, "lr": 3e-3},
        "mlp": {"epochs": 30, "batch_size": 32, "lr": 1e-3},
    }


@register_task
class DNA(Classification):
    """Oct4 vs Mafk ChIP-seq peaks, 200 bases one-hot encoded (N = 0.25)."""

    name = "dna"
    description = "DNA binding sites, Oct4 vs Mafk (one-hot, 200 bp)"
    dataset = "dna"
    dataset_defaults: ClassVar[dict[str, Any]] = {"one_hot": True}
    standardise = False
    default_model = "deepbind"
    models: ClassVar[Recipes] = {
        "deepbind": {"epochs": 20, "batch_size": 64, "lr": 1e-3},
        "resnet": {"epochs": 20, "batch_size": 64, "lr": 1e-3},
    }


@register_task
class Reviews(TextRecipe):
    """Sentiment of product reviews (positive or negative), words as ids."""

    name = "reviews"
    description = "sentiment of reviews (words, variable length)"
    dataset = "reviews"
    default_model = "textcnn"
    models: ClassVar[Recipes] = TEXT_MODELS


@register_task
class CharLM(LanguageModelling):
    """A character language model of the fortune corpus (2.4 M characters)."""

    name = "char-lm"
    description = "character language model (fortunes), bits per character and sampling"
    dataset = "char-corpus"
    default_model = "charlm"
    models: ClassVar[Recipes] = {"charlm": {"epochs": 3, "batch_size": 64, "lr": 2e-3}}


@register_task
class Sunspots(Forecasting):
    """Yearly sunspot numbers: the next year from the last 20."""

    name = "sunspots"
    description = "yearly sunspot numbers, one year ahead from twenty"
    dataset = "sunspots"
    default_model = "forecaster"
    models: ClassVar[Recipes] = {
        "forecaster": {"epochs": 200, "batch_size": 16, "lr": 3e-3, "weight_decay": 1e-4}
    }


@register_task
class ElectricityDemand(Forecasting):
    """Half-hourly electricity demand of Victoria: the next day from the last two."""

    name = "elecdemand"
    description = "half-hourly electricity demand, next day from the last two"
    dataset = "elecdemand"
    default_model = "forecaster"
    models: ClassVar[Recipes] = {
        "forecaster": {"epochs": 20, "batch_size": 64, "lr": 2e-3, "weight_decay": 1e-4}
    }
