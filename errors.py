"""The few named exceptions hyperloom raises; each message is one sentence a person can act on."""


class HyperloomError(Exception):
    """A problem to show to the user as one clean line (the CLI exits non-zero)."""


class ConfigError(HyperloomError):
    """A setting or config file is invalid."""


class InputError(HyperloomError):
    """A file, query or turn given to hyperloom is malformed."""


class StorageError(HyperloomError):
    """The data directory or an index cannot be read or written."""


class BackendUnavailable(HyperloomError):
    """A server hyperloom depends on (Chroma, an embedding API) does not answer."""


class IndexDamaged(StorageError):
    """An index's files are missing, cut short or changed since they were saved; drop them and rebuild from the log."""
