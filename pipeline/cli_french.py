"""typer's and click's own words in French: help, usage line and argument errors.

typer writes "Usage:", "Show this message and exit.", "Missing argument 'path'" and the like in
English, and exits 2 on a bad argument, the code csac gives bad input. This module is the one place
that says them in French: `FrenchTyper` builds the command tree from French classes, and the root
group turns every usage error into a French message on stderr and exit code 1 (bad arguments).
Written against the click that typer vendors since 0.26 (typer._click, tested with 0.29), which has no
gettext catalogue; `tests/test_cli_french.py` fails loudly if a typer release changes these words.
"""

from __future__ import annotations

import re
import sys

import typer
from typer import core
from typer._click import exceptions as click_errors

from .errors import ExitCode

HELP = "Affiche cette aide et quitte."
USAGE = "Utilisation : "
SUBCOMMAND = "COMMANDE [ARGUMENTS]..."

# The help's fixed words: typer reads them from typer.rich_utils' attributes each time it prints help.
# That module (rich's Markdown and tracebacks: 0.1 s) is imported only when help is printed.
HELP_WORDS = {
    "DEPRECATED_STRING": "(obsolète) ",
    "DEFAULT_STRING": "[par défaut : {}]",
    "ENVVAR_STRING": "[variable d'environnement : {}]",
    "REQUIRED_LONG_STRING": "[obligatoire]",
    "COMMANDS_PANEL_TITLE": "Commandes",
    "ERRORS_PANEL_TITLE": "Erreur",
    "ABORTED_TEXT": "Interrompu.",
    "RICH_HELP": "Aide : [blue]'{command_path} {help_option}'[/]",
}

# What a value is, in the help's type column: "<path>" becomes "<chemin>", "%Y-%m-%d" "AAAA-MM-JJ".
TYPE_WORDS = {"path": "chemin", "file": "fichier", "directory": "dossier", "str": "texte", "int": "entier",
              "float": "nombre", "datetime": "date", "Path": "chemin", "%Y": "AAAA", "%m": "MM", "%d": "JJ", "%H": "hh",
              "%M": "mm"}  # fmt: skip


def french_type(label: str | None) -> str | None:
    """typer's type label in French; a flag (`<bool>`) takes no value, so it shows none."""
    if label is None or label == "<bool>":
        return None if label is None else ""
    label = re.sub(r"list\[(.*)\]", r"\1...", label).replace(" range>", ">")  # the bounds follow, in French
    return re.sub(r"%[A-Za-z]|[A-Za-z]+", lambda m: TYPE_WORDS.get(m.group(), m.group()), label)


def french_range(low, high) -> str | None:
    """A number's bounds as the help says them: "au moins 1", not typer's "x>=1"."""
    if low is not None and high is not None:
        return f"de {low} à {high}"
    if low is not None:
        return f"au moins {low}"
    return None if high is None else f"au plus {high}"


class FrenchArgument(core.TyperArgument):
    def display_type_rich(self, ctx) -> str | None:
        return french_type(super().display_type_rich(ctx))

    def _get_number_range_help_str(self) -> str | None:
        return french_range(self.min, self.max)


class FrenchOption(core.TyperOption):
    def display_type_rich(self, ctx) -> str | None:
        return french_type(super().display_type_rich(ctx))

    def _get_number_range_help_str(self) -> str | None:
        return None if super()._get_number_range_help_str() is None else french_range(self.min, self.max)


FRENCH_PARAMS = {core.TyperArgument: FrenchArgument, core.TyperOption: FrenchOption}


class _French:
    """What every command and group says about itself: help option, usage line, types."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            param.__class__ = FRENCH_PARAMS.get(type(param), type(param))

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = HELP
            option.__class__ = FRENCH_PARAMS.get(type(option), type(option))
        return option

    def format_help(self, ctx, formatter) -> None:
        from typer import rich_utils

        for name, words in HELP_WORDS.items():
            setattr(rich_utils, name, words)
        super().format_help(ctx, formatter)

    def format_usage(self, ctx, formatter) -> None:
        formatter.write_usage(ctx.command_path, " ".join(self.collect_usage_pieces(ctx)), prefix=USAGE)


class FrenchCommand(_French, core.TyperCommand):
    pass


class FrenchGroup(_French, core.TyperGroup):
    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Run by typer in its non-standalone mode, so that a usage error comes here: said in French,
        it exits 1. Errors of csac itself go through (pipeline/cli.py's main says them)."""
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click_errors.UsageError as exc:
            show_usage_error(exc)
            if not standalone_mode:
                raise
            sys.exit(ExitCode.bad_args)
        if result == ExitCode.interrupted:  # typer made a Ctrl-C an exit 130 and said nothing
            print("interrompu", file=sys.stderr)
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else ExitCode.ok)


class FrenchTyper(typer.Typer):
    """typer.Typer whose commands and groups speak French."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("cls", FrenchGroup)
        kwargs.setdefault("subcommand_metavar", SUBCOMMAND)
        super().__init__(**kwargs)

    def command(self, *args, **kwargs):
        kwargs.setdefault("cls", FrenchCommand)
        return super().command(*args, **kwargs)


def show_usage_error(exc: click_errors.UsageError) -> None:
    """The usage line, the error and where the help is, as typer shows them, in French."""
    ctx = exc.ctx
    if isinstance(exc, click_errors.NoArgsIsHelpError):
        return  # typer has printed the help already
    if ctx is not None:
        print(ctx.get_usage(), file=sys.stderr)
        print(f"Aide : {ctx.command_path} --help", file=sys.stderr)
    print(f"erreur : {usage_message(exc)}", file=sys.stderr)


def show_argument_error(group, argv: list[str], message: str) -> None:
    """An argument csac itself refused (a region, a dossier it does not know) said like a usage error:
    the command's usage line, where its help is, then the error."""
    command, path = group, ["csac"]
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)  # the root's only option with a value
        elif word.startswith("-"):
            continue
        elif hasattr(command, "commands") and word in command.commands:
            command = command.commands[word]
            path.append(word)
        else:
            break
    name = " ".join(path)
    with core._click.Context(command, info_name=name) as ctx:
        print(ctx.get_usage(), file=sys.stderr)
    print(f"Aide : {name} --help", file=sys.stderr)
    print(f"erreur : {message}", file=sys.stderr)


def usage_message(exc: click_errors.UsageError) -> str:
    """What went wrong with the command line, in French."""
    if isinstance(exc, click_errors.MissingParameter):
        what = "l’option" if _is_option(exc.param) else "l’argument"
        return f"il manque {what} {_name(exc.param)}."
    if isinstance(exc, click_errors.BadParameter):
        if exc.param is None:
            return exc.message  # our own, already in French
        return f"valeur refusée pour {_name(exc.param)} : {_bad_value(exc)}"
    if isinstance(exc, click_errors.NoSuchOption):
        hint = f" (vouliez-vous dire {', '.join(sorted(exc.possibilities))} ?)" if exc.possibilities else ""
        return f"option inconnue : {exc.option_name}{hint}"
    if isinstance(exc, click_errors.BadOptionUsage):
        if "does not take a value" in exc.message:
            return f"l’option {exc.option_name} ne prend pas de valeur."
        return f"l’option {exc.option_name} attend une valeur."
    return _general(exc.message)


def _is_option(param) -> bool:
    return param is not None and param.param_type_name == "option"


def _name(param) -> str:
    """An option by its names (`--limit/-n`), an argument by its metavar."""
    if param is None:
        return "?"
    return "/".join(param.opts) if _is_option(param) else (param.metavar or param.name or "?").upper()


PATH_ERRORS = (
    (r"does not exist\.$", "fichier introuvable : « {} »"),
    (r"is a directory\.$", "« {} » est un dossier ; un fichier est attendu"),
    (r"is a file\.$", "« {} » est un fichier ; un dossier est attendu"),
    (r"is not readable\.$", "« {} » ne peut pas être lu (droits d’accès)"),
    (r"is not writable\.$", "« {} » ne peut pas être écrit (droits d’accès)"),
)


def _bad_value(exc: click_errors.BadParameter) -> str:
    """A value the parameter's type refused: what was given and what is expected."""
    match = re.match(r"^\w+ '(.*)' ", exc.message)
    for pattern, french in PATH_ERRORS:
        if match and re.search(pattern, exc.message):
            return french.format(match.group(1))
    errors = getattr(exc.__cause__, "errors", None)
    if errors is None:
        return exc.message
    error = errors()[0]
    given, limits = error.get("input"), error.get("ctx") or {}
    expected = {
        "int_parsing": "un nombre entier est attendu",
        "int_from_float": "un nombre entier est attendu",
        "float_parsing": "un nombre est attendu",
        "bool_parsing": "oui ou non est attendu",
        "greater_than_equal": f"au moins {limits.get('ge')} est attendu",
        "greater_than": f"plus de {limits.get('gt')} est attendu",
        "less_than_equal": f"au plus {limits.get('le')} est attendu",
        "less_than": f"moins de {limits.get('lt')} est attendu",
    }.get(error.get("type"))
    if expected is None and "does not match the format" in error.get("msg", ""):
        formats = re.findall(r"'(%[^']*)'", error["msg"])
        expected = "une date au format " + " ou ".join(french_type(f) for f in formats) + " est attendue"
    return f"« {given} » : {expected or 'valeur invalide'}"


def _general(message: str) -> str:
    """The usage errors that carry only a message (unknown command, extra arguments)."""
    unknown = re.match(r"No such command '(.*?)'\.(?: Did you mean (.*)\?)?", message)
    if unknown:
        near = f" (vouliez-vous dire {unknown.group(2).replace(chr(39), '')} ?)" if unknown.group(2) else ""
        return f"commande inconnue : « {unknown.group(1)} »{near}"
    extra = re.match(r"Got unexpected extra argument(?:s|\(s\))? \((.*)\)", message)
    if extra:
        return f"argument(s) en trop : {extra.group(1)}"
    if message.startswith("Missing command"):
        return "il manque la commande."
    return message
