"""MADE: Masked Autoencoder for Distribution Estimation (Germain et al., ICML 2015)."""

from .layers import MaskedLinear
from .model import MADE

__version__ = "0.1.0"
__all__ = ["MADE", "MaskedLinear", "__version__"]
