"""Reading the YAML and JSON files people give csac, and saying in French why one cannot be read.

YAML is parsed by libyaml's C loader when PyYAML has it (12 times faster than the pure-Python one
on the variants and regions: it was a tenth of a second at every start). A file that cannot be read
is told by its name and, for a syntax error, its line and column: never Python's own English
("[Errno 2] No such file or directory", "while parsing a flow sequence").
"""

from __future__ import annotations

import errno
import json
import os
import re

import yaml

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
YAMLError = yaml.YAMLError


def load_yaml(text: str):
    """YAML's plain data (no tags that build objects), by the fastest safe loader available."""
    return yaml.load(text, Loader=SAFE_LOADER)  # noqa: S506 - a safe loader


SYSTEM = {  # what the system says of a file it could not read or write, in French
    errno.ENOENT: "fichier ou dossier introuvable",
    errno.EACCES: "accès refusé",
    errno.EPERM: "opération non permise",
    errno.ENOSPC: "disque plein",
    errno.EDQUOT: "quota disque dépassé",
    errno.EROFS: "système de fichiers en lecture seule",
    errno.EISDIR: "c'est un dossier",
    errno.ENOTDIR: "un élément du chemin n'est pas un dossier",
    errno.EIO: "erreur d'entrée-sortie du disque",
    errno.EMFILE: "trop de fichiers ouverts",
    errno.ENAMETOOLONG: "nom de fichier trop long",
    errno.ELOOP: "trop de liens symboliques dans le chemin",
    errno.EEXIST: "un fichier porte déjà ce nom",
    errno.ECONNREFUSED: "connexion refusée",
    errno.ETIMEDOUT: "délai de connexion dépassé",
    errno.EHOSTUNREACH: "hôte injoignable",
    errno.ENETUNREACH: "réseau injoignable",
    errno.ECONNRESET: "connexion interrompue par le serveur",
}


NAMES = {  # what the resolver says of a host name (socket.gaierror, whose codes are not errno's)
    "EAI_NONAME": "nom d'hôte inconnu : vérifiez l'adresse",
    "EAI_NODATA": "nom d'hôte sans adresse : vérifiez l'adresse",
    "EAI_AGAIN": "nom d'hôte momentanément introuvable (serveur DNS injoignable)",
    "EAI_FAIL": "nom d'hôte introuvable (échec du serveur DNS)",
}


def system_error(exc: OSError) -> str:
    """An OSError as people can read it: the system's reason in French, never "[Errno 28] ..."."""
    import socket

    if isinstance(exc, socket.gaierror):
        said = {getattr(socket, name, None): words for name, words in NAMES.items()}
        return said.get(exc.errno, f"nom d'hôte introuvable (code {exc.errno})")
    if isinstance(exc, TimeoutError) and not exc.errno:
        return "délai dépassé"
    return SYSTEM.get(exc.errno, f"erreur système {exc.errno}") if exc.errno else "erreur système"


def said_os_error(exc: OSError) -> str:
    """A file-system error no step turned into its own message, as a clerk reads it: the path(s) it
    names and the system's reason in French, never Python's "[Errno 20] Not a directory: '…'"."""
    names = [os.fsdecode(n) for n in (exc.filename, exc.filename2) if n is not None]
    reason = system_error(exc)
    return f"{' → '.join(names)} : {reason}" if names else reason


def said_failure(exc: BaseException) -> str:
    """Any failure as a line a clerk reads (journal, reason.txt, a notice, a log line): a file-system
    error by its path and French reason; an error of csac's own by its French message; anything
    else (a fault in csac or a library) as an internal error naming the exception."""
    from .errors import CsacError

    if isinstance(exc, OSError):
        return said_os_error(exc)
    if isinstance(exc, CsacError):
        return str(exc)
    return f"erreur interne ({type(exc).__name__} : {exc})"


def what_to_do(exc: OSError) -> str:
    """The clerk's next step after a file-system error csac could not get past."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "Libérez de la place sur ce disque (ou demandez un quota plus grand), puis relancez."
    return "Vérifiez le chemin et les droits du dossier (-o, --outbox, --inbox, --state), puis relancez."


OS_ERRORS = {
    errno.ENOENT: "fichier introuvable : vérifiez le chemin",
    errno.EACCES: "accès refusé : vérifiez les droits du fichier",
    errno.EPERM: "accès refusé : vérifiez les droits du fichier",
    errno.EISDIR: "c'est un dossier : donnez le chemin d'un fichier",
    errno.ENOTDIR: "un élément du chemin n'est pas un dossier",
    errno.ENAMETOOLONG: "nom de fichier trop long",
    errno.ELOOP: "trop de liens symboliques dans le chemin",
    errno.EIO: "erreur de lecture du disque",
}
YAML_PROBLEMS = (  # libyaml's and PyYAML's wording, in French
    (r"expected ',' or '\]'", "une liste ouverte par « [ » n'est pas fermée (« ] » ou « , » attendu)"),
    (r"expected ',' or '\}'", "un bloc ouvert par « { » n'est pas fermé (« } » ou « , » attendu)"),
    (r"mapping values are not allowed", "« : » inattendu : mettez la valeur entre guillemets"),
    (
        r"cannot start any token",
        "caractère interdit à cet endroit (une tabulation ? indentez avec des espaces)",
    ),
    (r"could not find expected ':'", "« : » attendu après le nom du champ"),
    (r"did not find expected key", "indentation incohérente : alignez les champs du même niveau"),
    (r"did not find expected '-' indicator", "indentation incohérente dans la liste"),
    (r"found unexpected end of stream", "fin du fichier inattendue : des guillemets ne sont pas fermés"),
    (r"found undefined alias", "alias (*nom) sans ancre (&nom) correspondante"),
    (r"found duplicate anchor", "ancre (&nom) définie deux fois"),
    (r"unacceptable character", "caractère non admis dans un fichier YAML"),
    (r"could not determine a constructor", "étiquette YAML (!…) non admise"),
)
JSON_PROBLEMS = (
    (r"Expecting value", "valeur attendue"),
    (r"Expecting property name", "nom de champ entre guillemets attendu"),
    (r"Expecting ',' delimiter", "« , » attendue"),
    (r"Expecting ':' delimiter", "« : » attendu"),
    (r"Extra data", "texte en trop après la fin des données"),
    (r"Unterminated string", "guillemets non fermés"),
    (r"Invalid control character", "caractère de contrôle dans un texte"),
)


def _said(message: str, table) -> str:
    return next((fr for pattern, fr in table if re.search(pattern, message)), "syntaxe incorrecte")


def unreadable(exc: BaseException) -> str:
    """Why a file could not be read, in French, with the line and column of a syntax error."""
    if isinstance(exc, OSError):
        return OS_ERRORS.get(exc.errno, f"lecture impossible (erreur système {exc.errno})")
    if isinstance(exc, UnicodeDecodeError):
        return f"le fichier n'est pas en UTF-8 (octet {exc.start + 1}) : enregistrez-le en UTF-8"
    if isinstance(exc, json.JSONDecodeError):
        return f"JSON invalide ligne {exc.lineno}, colonne {exc.colno} : {_said(exc.msg, JSON_PROBLEMS)}"
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f" ligne {mark.line + 1}, colonne {mark.column + 1}" if mark else ""
        return f"YAML invalide{where} : {_said(f'{exc.problem} {exc.context}', YAML_PROBLEMS)}"
    if isinstance(exc, yaml.YAMLError):
        return f"YAML invalide : {_said(str(exc), YAML_PROBLEMS)}"
    return "fichier illisible"
