"""Typed errors whose messages are written for the person using the app."""


class VisionLabError(Exception):
    """Base class: the message is safe and helpful to show to a user as it is."""


class InvalidImageError(VisionLabError):
    """The uploaded or drawn image cannot be used (not an image, broken, too large, empty...)."""


class DatasetMissingError(VisionLabError):
    """A dataset is not on this machine and could not be downloaded."""


class WeightsMissingError(VisionLabError):
    """A model's trained weights file is missing or unreadable."""


class UnknownModelError(VisionLabError):
    """A model name that is not in the registry."""


class EmptyCanvasError(InvalidImageError):
    """The drawing canvas holds no drawing (nothing, or only a dot or a few stray pixels)."""


class DrawingTooSmallError(EmptyCanvasError):
    """The drawing is only a dot or a tiny mark: too small to read (an EmptyCanvasError, so pages
    show it as a friendly hint, not as a failure)."""


class ModelFileError(VisionLabError):
    """An uploaded model file cannot be used (not a Keras file, damaged, too big, wrong shape...)."""


class UnsafeModelError(ModelFileError):
    """An uploaded model file carries code (Lambda layers, custom classes): it is never loaded."""
