"""minidl: a mini deep-learning framework on PyTorch tensors, without autograd or torch.nn.

Every module computes its own backward pass by hand. Names and shapes follow
PyTorch so that what you learn here transfers.

Example:
    >>> import torch, minidl
    >>> g = torch.Generator().manual_seed(0)
    >>> X, y = minidl.disk_dataset(1000, generator=g)
    >>> model = minidl.Sequential(minidl.Linear(2, 25, generator=g), minidl.Tanh(), minidl.Linear(25, 1, generator=g))
    >>> history = minidl.train(model, minidl.MSELoss(), minidl.SGD(model.param(), lr=0.1), X, y,
    ...                        num_epochs=10, batch_size=10, generator=g, progress=False)
"""

from . import init, testing
from .activations import ELU, LeakyReLU, ReLU, Sigmoid, Tanh
from .data import disk_dataset
from .dropout import Dropout
from .linear import Linear
from .losses import BCEWithLogitsLoss, Loss, MSELoss
from .module import Module, Sequential
from .optim import SGD, Adam, Optimizer
from .training import History, error_rate, evaluate, train

__version__ = "0.1.0"

__all__ = [
    "ELU",
    "SGD",
    "Adam",
    "BCEWithLogitsLoss",
    "Dropout",
    "History",
    "LeakyReLU",
    "Linear",
    "Loss",
    "MSELoss",
    "Module",
    "Optimizer",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "disk_dataset",
    "error_rate",
    "evaluate",
    "init",
    "testing",
    "train",
]
