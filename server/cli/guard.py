"""What a server command may meet, said in one line on stderr with an exit code: never a
traceback. 2 for configuration and usage, 1 for the rest, 130 when interrupted."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from evidence.errors import EvidenceError, StoreConfigError
from server.errors import ConfigError, ServerError

Handler = Callable[[argparse.Namespace], int]

EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A failure to report in one line; `code` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _fail(message: str, code: int) -> int:
    print(f"jitc: {message}", file=sys.stderr)
    return code


def guarded(handler: Handler) -> Handler:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except CommandError as exc:
            return _fail(str(exc), exc.code)
        except ConfigError as exc:
            return _fail(exc.message, EXIT_CONFIG)
        except ServerError as exc:
            return _fail(exc.message, EXIT_FAILED)
        except StoreConfigError as exc:
            return _fail(f"the evidence store is misconfigured: {exc}", EXIT_CONFIG)
        except EvidenceError as exc:
            return _fail(f"the evidence store failed: {exc}", EXIT_FAILED)
        except OSError as exc:
            return _fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), EXIT_FAILED)
        except KeyboardInterrupt:
            return _fail("interrupted", EXIT_INTERRUPTED)

    return run
