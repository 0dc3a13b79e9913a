"""The exception tree: every error a user can meet, each with a message that says what to do."""


class RagError(Exception):
    """Base of every error this library raises on purpose."""


class ConfigError(RagError):
    """A configuration value is missing, malformed or contradictory."""


class QuestionError(RagError):
    """The question cannot be asked as given (empty, too long, not valid text)."""


class CorpusError(RagError):
    """No usable document could be read from the sources."""


class ModelError(RagError):
    """The embedding model cannot be found, converted or loaded."""


class IndexError_(RagError):
    """Base of the index problems (named with a trailing underscore to keep the builtin visible)."""


class IndexMissingError(IndexError_):
    """No index has been built at the configured location."""


class IndexCorruptError(IndexError_):
    """The index folder exists but cannot be read back consistently."""


class IndexStaleError(IndexError_):
    """The index was built from another corpus, model or chunking than the configuration asks for."""


class IndexLockedError(IndexError_):
    """Another process is writing the index."""


class ServeError(RagError):
    """The chat page cannot listen at the configured host and port."""


class GeneratorError(RagError):
    """The optional LLM endpoint failed; callers fall back to the extractive answer."""


class UngroundedAnswerError(GeneratorError):
    """The LLM replied, but with no answer that cites a passage it was given; callers show the extractive one."""
