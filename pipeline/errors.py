"""Typed errors and the exit codes they map to (after OCRmyPDF's ExitCode).

Every error a person can meet names the file and the field, and says what to
do, in French: the people who read them are Resah staff.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    ok = 0
    bad_args = 1
    input_file = 2
    config_error = 3
    file_access_error = 5
    other_error = 15
    interrupted = 130  # Ctrl-C: 128 + SIGINT, as shells say it


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located by its field path."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path} : {self.message}" if self.path else self.message


class CsacError(Exception):
    exit_code = ExitCode.other_error


class InputError(CsacError):
    """The user's data is wrong; every problem is listed at once."""

    exit_code = ExitCode.input_file

    def __init__(self, source: str, problems: list[Problem] | tuple[Problem, ...]):
        self.source = source
        self.problems = tuple(problems)
        lines = [f"{source} : {len(self.problems)} erreur(s)"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class ConfigError(CsacError):
    """A variant, the regions file or a template is broken: fix the repository."""

    exit_code = ExitCode.config_error


class DeliveryError(CsacError):
    """The outbox could not be written: the deposit stays claimed and is tried again."""

    exit_code = ExitCode.file_access_error


class ResidentError(CsacError):
    """The resident server (`csac warm`) cannot start: its folder or its start-up."""

    exit_code = ExitCode.file_access_error


class ArgumentError(CsacError):
    """The command names something csac does not know (a region), or asks what this setup cannot do."""

    exit_code = ExitCode.bad_args


class UnknownVariantError(ArgumentError):
    """A variant id typed on the command line that no variant file defines: a bad argument, like a region."""
