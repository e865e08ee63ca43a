"""Model zoo: one file per family, built by name through the registry (``create``)."""

from convrec.models import (
    autoencoder,
    crnn,
    deepbind,
    fcn,
    forecaster,
    inception_time,
    language,
    lenet,
    maxwell_cell,
    mlp,
    recurrent,
    resnet,
    seq2seq,
    textcnn,
    vgg,
)
from convrec.models.autoencoder import ConvAutoencoder
from convrec.models.crnn import CRNN
from convrec.models.deepbind import DeepBind
from convrec.models.fcn import FCN
from convrec.models.forecaster import Forecaster
from convrec.models.inception_time import InceptionModule, InceptionTime
from convrec.models.language import CharLM
from convrec.models.lenet import LeNet5
from convrec.models.maxwell_cell import MaxwellCell, MaxwellCellNet
from convrec.models.mlp import MLP
from convrec.models.recurrent import RecurrentNet
from convrec.models.registry import (
    INPUT_KINDS,
    ModelEntry,
    available,
    create,
    entry,
    register,
)
from convrec.models.registry import register as register_model  # the public name, for plugins
from convrec.models.resnet import ResNet
from convrec.models.seq2seq import AttentionEncoderDecoder, ContextEncoderDecoder, Transduction
from convrec.models.textcnn import TextCNN
from convrec.models.vgg import SmallVGG

__all__ = [
    "CRNN",
    "FCN",
    "INPUT_KINDS",
    "MLP",
    "AttentionEncoderDecoder",
    "CharLM",
    "ContextEncoderDecoder",
    "ConvAutoencoder",
    "DeepBind",
    "Forecaster",
    "InceptionModule",
    "InceptionTime",
    "LeNet5",
    "MaxwellCell",
    "MaxwellCellNet",
    "ModelEntry",
    "RecurrentNet",
    "ResNet",
    "SmallVGG",
    "TextCNN",
    "Transduction",
    "autoencoder",
    "available",
    "create",
    "crnn",
    "deepbind",
    "entry",
    "fcn",
    "forecaster",
    "inception_time",
    "language",
    "lenet",
    "maxwell_cell",
    "mlp",
    "recurrent",
    "register",
    "register_model",
    "resnet",
    "seq2seq",
    "textcnn",
    "vgg",
]
