"""Typed errors of MaskHand: every failure a user can cause derives from MaskHandError.

Messages say what went wrong, what was expected and what was found, in one plain sentence,
so the CLI can print them as they are and operators can report them in Blender's info area.
"""


class MaskHandError(Exception):
    """Base of every error MaskHand raises on purpose (bad input, missing files, wrong rigs)."""


class InputFileError(MaskHandError):
    """A file the user named is missing, unreadable, or not what it claims to be."""


class ImageSizeError(InputFileError):
    """An image too small for hand detection (images.MIN_DETECT_SIDE)."""


class OutputFileError(MaskHandError):
    """A file MaskHand was asked to write cannot be written there: wrong extension, a folder, no
    permission, a file in the way of its folder (output_paths.check_output_file)."""


class PoseDataError(MaskHandError):
    """Pose parameters have the wrong shape, hold NaN/inf, or are not MANO data."""


class ModelFileError(MaskHandError):
    """A hand model file (MANO_*.pkl, the open hand asset, a checkpoint) is missing or malformed."""


class UnsafePickleError(ModelFileError):
    """A pickle asked to build an object outside the allow-list (it may try to run code)."""


class RigError(MaskHandError):
    """The target armature is missing, not an armature, or lacks the bones a hand needs."""


class RequestError(MaskHandError):
    """A backend request's payload is invalid: an unknown field, a wrong type, a value out of range."""


class ProtocolError(MaskHandError):
    """A line on the backend's pipes is not a protocol message (bad JSON, wrong fields)."""


CANCELLED = "Cancelled"  # BackendError.name of a request that stopped because it was cancelled


class BackendError(MaskHandError):
    """The backend failed: it could not start, it died, it hung, or a request ended in an error.

    name: the backend's error name for a failed request ("InputFileError", "Cancelled", ...), or
    "BackendDied" / "BackendTimeout" / "BackendStartError" for the process itself.
    """

    def __init__(self, message: str, name: str = "BackendError"):
        super().__init__(message)
        self.name = name

    @property
    def cancelled(self) -> bool:
        return self.name == CANCELLED
