"""Is the convention signed? PAdES / PKCS#7 signatures checked offline with pyHanko.

A signature counts when pyHanko finds it intact (the signed bytes are
unchanged), valid (the cryptography holds) and covering the document as it
was deposited: the whole file, or a revision followed only by what DocMDP
permits, as pyHanko's difference analysis judges it (later signatures,
archival data, form filling, and comments: pyHanko's default policy refuses
those, annotations_rule adds them). Comments are reported so that a person
reads them. What DocMDP permits is then judged by what a person sees
(late_widgets): a field added or filled after signing that draws over the
signed text or images, or over much of a page, or that acts, voids the
signature; a small one in a blank space is reported. Anything else appended
after signing (pages swapped or added, content streams rewritten or added,
annotations present at signing changed, links or actions, objects rewritten)
means the document was modified after signature: the signature no longer
speaks for what a person reads. Of
several signatures, the best counts. Trust in the signer's certificate needs
the network and a trust list, so it is recorded, not required. An empty
signature field does not count; a scan or a pasted signature image is
"unverified": a person has to look at it.

pyHanko is loaded only for PDFs that carry a filled signature: its /ByteRange
has to sit in the file itself, never in a compressed object stream. A hostile
PDF must not make it run away: the cross-reference entries it would load are
counted first, the revisions after a signature are capped, and everything
pyHanko does on one PDF runs under a budget of Python calls (its difference
analysis enumerates paths through the object graph, which a few dozen
objects can make exponential). Past a cap, the signature is not counted.
"""

from __future__ import annotations

import io
import itertools
import logging
import re
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

VALID, INVALID, EMPTY, UNVERIFIED, NONE = "valid", "invalid", "empty", "unverified", "none"
MAX_XREF_ENTRIES = 50_000  # cross-reference entries pyHanko may load (about 300 bytes each, 700 to diff)
MAX_LATER_REVISIONS = 50  # revisions after a signature that the difference analysis may review
MAX_SIGNATURES = 20  # the latest signatures of one PDF that are examined
CALL_BUDGET = (
    500_000  # Python calls pyHanko may make on one PDF (under a second); a legitimate one needs under 100,000
)
SIGNER_CHARS = 120
_FILLED = re.compile(rb"/ByteRange\s*\[")
_FIELD = re.compile(rb"/FT\s*/Sig\b")
_ROW_ENDS = tuple(b" " + kind + eol for kind in (b"n", b"f") for eol in (b" \n", b" \r", b"\r", b"\n"))
_SIZE = re.compile(rb"/Size\s+(\d{1,12})")
_INDEX = re.compile(rb"/Index\s*\[([\d\s]{0,2048})\]")

OFFLINE = " (certificat non vérifié hors ligne)"
DETAILS = {  # what a person reads about a signature, by verdict
    "none": "signature électronique intacte et valide, couvrant tout le document",
    "lta_updates": "signature électronique intacte et valide ; ajoutés ensuite : métadonnées, horodatage ou données de validation seulement",
    "form_filling": "signature électronique intacte et valide ; ajoutés ensuite : autres signatures ou champs de formulaire remplis seulement",
    "annotations": "signature électronique intacte et valide ; des annotations (commentaires) ont été ajoutées après la signature, ce que la signature permet : elles ne sont pas signées, à examiner",
    "refused": "signature électronique qui ne couvre pas le document déposé : convention modifiée après signature (signature de certification de la révision {revision} sur {revisions}, qui interdit ce qui a été ajouté ensuite : {what})",
    "modified": "signature électronique qui ne couvre pas le document déposé : convention modifiée après signature (signature de la révision {revision} sur {revisions}, suivie de changements non permis : pages, contenu ou objets)",
    "covered": "signature électronique qui ne couvre pas le document déposé : convention modifiée après signature (signature de la révision {revision} sur {revisions} : {why})",
    "widgets": "signature électronique non vérifiée : champs de formulaire ajoutés ou modifiés après la signature trop nombreux ou illisibles (csac n'en examine pas plus de {cap}) ; la convention a pu être modifiée après signature",
    "shown": " ; visible sur la page mais non signé, à examiner : {notes}",
    "irregular": "signature électronique qui ne couvre pas le document déposé : convention modifiée après signature (plage d'octets signée irrégulière ou révision signée incomplète)",
    "unchecked": "signature électronique non vérifiée : {later} révisions ajoutées après signature (csac n'en analyse pas plus de {cap}) ; la convention a pu être modifiée après signature",
    "altered": "signature électronique invalide : convention modifiée après signature (octets signés altérés)",
    "broken": "signature électronique invalide : la signature ne correspond pas au certificat du signataire",
    "complex": "signature électronique non vérifiée : structure du PDF trop complexe pour être analysée ; la convention a pu être modifiée après signature",
    "xref": "signature électronique non vérifiée : table des objets démesurée (plus de {cap} entrées) ; la convention a pu être modifiée après signature",
}
REFUSED = {
    "form_filling": "signatures ou champs de formulaire remplis",
    "annotations": "annotations (commentaires)",
}


class _Exhausted(BaseException):
    """The call budget is spent. A BaseException, so that no `except Exception` in pyHanko swallows it."""


@dataclass(frozen=True)
class Coverage:
    """What a signature's /ByteRange covers, against the file as deposited."""

    start: int
    end: int  # the signed bytes run from start to end, the signature's own value excepted
    file_bytes: int
    entire_file: bool
    revision: int  # the revision the signature closes, counted from 1
    revisions: int

    def as_dict(self) -> dict:
        return {
            "bytes": [self.start, self.end],
            "file_bytes": self.file_bytes,
            "entire_file": self.entire_file,
            "revision": self.revision,
            "revisions": self.revisions,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Coverage:
        """Read back what `as_dict` wrote (a report kept by the journal)."""
        start, end = data["bytes"]
        return cls(start, end, data["file_bytes"], data["entire_file"], data["revision"], data["revisions"])


@dataclass(frozen=True)
class SignatureCheck:
    status: str  # valid, invalid, empty, unverified or none
    signer: str | None = None
    trusted: bool = False
    detail: str = ""
    covers: Coverage | None = None
    # what follows the signed revision: none, lta_updates, form_filling, annotations, other, unchecked
    modification: str | None = None
    title: str | None = (
        None  # the signer's quality (Maire, Président…): the certificate's title, if it has one
    )
    scanned: bool = False  # decided from a scan's pixels (pipeline/ink.py): a person looks before treating it
    crop: bytes | None = field(
        default=None, repr=False, compare=False
    )  # its signature zone, a PNG to look at

    @property
    def signed(self) -> bool:
        return self.status in (VALID, UNVERIFIED)


@contextmanager
def _call_budget(calls: int) -> Iterator[None]:
    """Raise _Exhausted in this thread once `calls` Python functions have been entered."""
    left = [calls]

    def count(frame, event, arg) -> None:
        if event == "call":
            left[0] -= 1
            if left[0] < 0:
                raise _Exhausted

    previous = sys.getprofile()
    sys.setprofile(count)
    try:
        yield
    finally:
        sys.setprofile(previous)


def xref_entries(data: bytes, cap: int) -> int:
    """About the cross-reference entries a reader would load, counted up to past `cap`: a fast first look.

    Table rows (whatever their padding, by how they end), plus each /Size and
    /Index count: a non-strict reader makes up the entries an xref stream
    announces even when its data is missing. What slips past is caught by the
    call budget.
    """
    rows = sum(data.count(end) for end in _ROW_ENDS)
    sizes = sum(int(m.group(1)) for m in itertools.islice(_SIZE.finditer(data), cap + 1))
    index = sum(
        sum(int(n) for n in m.group(1).split()[1::2])
        for m in itertools.islice(_INDEX.finditer(data), cap + 1)
    )
    return rows + sizes + index


def _signer(certificate) -> str | None:
    """The signer's common name, printable and short: it comes from the depositor's certificate."""
    if certificate is None:
        return None
    return _printable(certificate.subject.native.get("common_name") or certificate.subject.human_friendly)


def _title(certificate) -> str | None:
    """The signer's quality, when the certificate states it (X.520 title: "Maire", "Président")."""
    if certificate is None:
        return None
    title = certificate.subject.native.get("title")
    return _printable(title) if title else None


def _printable(name) -> str | None:
    name = ", ".join(name) if isinstance(name, list) else str(name)
    printable = "".join(c for c in name if not unicodedata.category(c).startswith("C"))
    return " ".join(printable.split())[:SIGNER_CHARS] or None


def _coverage(embedded, entire_file: bool, revisions: int, file_bytes: int) -> Coverage:
    byte_range = [int(n) for n in embedded.byte_range]
    start, end = (byte_range[0], byte_range[2] + byte_range[3]) if len(byte_range) == 4 else (0, 0)
    return Coverage(start, end, file_bytes, entire_file, embedded.signed_revision + 1, revisions)


def _modification(embedded, entire_file: bool, covers: Coverage) -> tuple[str, bool]:
    """pyHanko's judgement of what follows the signed revision, and whether its DocMDP permits it."""
    from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel

    from .annotations_rule import comment_policy

    if entire_file:
        return "none", True
    if covers.revisions - covers.revision > MAX_LATER_REVISIONS:
        return "unchecked", False
    embedded.compute_integrity_info(comment_policy())  # the difference analysis, revision by revision
    integrity = embedded.summarise_integrity_info()
    diff = integrity["diff_result"]
    level = diff.modification_level if isinstance(diff, DiffResult) else ModificationLevel.OTHER
    return level.name.lower(), bool(integrity["docmdp_ok"])


def _detail(modification: str, permitted: bool, covers: Coverage) -> str:
    if permitted:
        return DETAILS[modification]
    # what pyHanko's policy allows but a certification's DocMDP (P=1 or P=2) forbids is named as such
    key = (
        modification if modification == "unchecked" else "refused" if modification in REFUSED else "modified"
    )
    return DETAILS[key].format(
        revision=covers.revision,
        revisions=covers.revisions,
        later=covers.revisions - covers.revision,
        cap=MAX_LATER_REVISIONS,
        what=REFUSED.get(modification, ""),
    )


def _check(embedded, revisions: int, data: bytes) -> SignatureCheck:
    from pyhanko.sign.validation import SignatureCoverageLevel as Level
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    context = ValidationContext(trust_roots=[], allow_fetching=False)
    status = validate_pdf_signature(embedded, context, skip_diff=True)
    signer, title = _signer(status.signing_cert), _title(status.signing_cert)
    covers = _coverage(embedded, status.coverage == Level.ENTIRE_FILE, revisions, len(data))
    if not (status.intact and status.valid):
        return SignatureCheck(
            INVALID, signer, False, DETAILS["broken" if status.intact else "altered"], covers, title=title
        )
    if status.coverage < Level.ENTIRE_REVISION:  # a gap in the byte range, or a revision left half signed
        return SignatureCheck(INVALID, signer, False, DETAILS["irregular"], covers, "other", title)
    modification, permitted = _modification(embedded, covers.entire_file, covers)
    if not permitted:
        return SignatureCheck(
            INVALID, signer, False, _detail(modification, False, covers), covers, modification, title
        )
    checked = replace(_seen(embedded, modification, covers, data), signer=signer, covers=covers, title=title)
    if checked.status != VALID:
        return checked
    trusted = bool(status.trusted)
    return replace(checked, trusted=trusted, detail=checked.detail + ("" if trusted else OFFLINE))


def _seen(embedded, modification: str, covers: Coverage, data: bytes) -> SignatureCheck:
    """What pyHanko permits, judged by what a person sees: widgets added or changed since (late_widgets)."""
    from .late_widgets import MAX_WIDGETS, Judgement, judge

    seen = Judgement()
    if modification not in ("none", "unchecked"):
        seen = judge(embedded.reader, embedded.signed_revision, data[: covers.end])
    if seen.unchecked:
        return SignatureCheck(
            INVALID, detail=DETAILS["widgets"].format(cap=MAX_WIDGETS), modification="unchecked"
        )
    if seen.refusal:
        detail = DETAILS["covered"].format(
            revision=covers.revision, revisions=covers.revisions, why=seen.refusal
        )
        return SignatureCheck(INVALID, detail=detail, modification="other")
    notes = DETAILS["shown"].format(notes="; ".join(seen.notes)) if seen.notes else ""
    return SignatureCheck(
        VALID, detail=_detail(modification, True, covers) + notes, modification=modification
    )


def _check_one(embedded, revisions: int, data: bytes) -> SignatureCheck:
    """One signature's verdict; an error in it leaves the others to be judged."""
    try:
        return _check(embedded, revisions, data)
    except Exception as exc:  # _Exhausted is no Exception: the budget stops everything
        return SignatureCheck(INVALID, detail=f"signature illisible ({type(exc).__name__})")


def _without_signing_api() -> None:
    """Let `pyhanko.sign.validation` and `.diff_analysis` be imported without pyhanko/sign/__init__.py.

    That file imports pyHanko's whole signing API and, through its timestamp client, aiohttp: 0.4 s of
    CPU at every csac start, half of pyHanko's import, for code csac never runs here (it validates).
    `pyhanko.sign` is registered as a package whose submodules import as usual (`from pyhanko.sign
    import signers` still works); a name its __init__ defines (`from pyhanko.sign import Signer`, as
    pyHanko's own CSC signer and timestamp client write) runs that __init__ first, so the package ends
    as it would have been. Done only if nothing has imported it yet.
    """
    if "pyhanko.sign" in sys.modules:
        return
    import importlib
    import importlib.util

    import pyhanko

    spec = importlib.util.find_spec("pyhanko.sign")
    package = importlib.util.module_from_spec(spec)

    def complete(name: str):
        if name.startswith("__") and name != "__all__":  # a tool's probe (__wrapped__…), not the __init__'s
            raise AttributeError(name)
        if importlib.util.find_spec(f"pyhanko.sign.{name}") is not None:
            return importlib.import_module(f"pyhanko.sign.{name}")
        del package.__getattr__  # the package is whole from here on
        spec.loader.exec_module(package)
        return getattr(package, name)

    package.__getattr__ = complete
    sys.modules["pyhanko.sign"] = pyhanko.sign = package


VALIDATION_MODULES = ("pyhanko.pdf_utils.reader", "pyhanko.sign.validation", "pyhanko.sign.diff_analysis",
                      "pyhanko_certvalidator", ".annotations_rule", ".late_widgets")  # fmt: skip


def _load_validation() -> None:
    """Import what validating a signature runs, before its call budget starts: the budget is for
    pyHanko's work on one PDF, the same whether or not this process has validated one before (the
    imports alone take some 20,000 calls)."""
    import importlib

    _without_signing_api()
    for module in VALIDATION_MODULES:
        importlib.import_module(module, __package__)


def _validate_all(data: bytes) -> list[SignatureCheck]:
    """Each signature's verdict, the latest first, stopping at the first that counts."""
    _load_validation()
    from pyhanko.pdf_utils.reader import PdfFileReader

    if xref_entries(data, MAX_XREF_ENTRIES) > MAX_XREF_ENTRIES:
        return [SignatureCheck(INVALID, detail=DETAILS["xref"].format(cap=MAX_XREF_ENTRIES))]
    # pyHanko logs every untrusted self-signed chain and every refused revision; the verdict says it already.
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
    checks: list[SignatureCheck] = []
    with _call_budget(CALL_BUDGET):
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        # Document timestamps (/DocTimeStamp) date a document; they are no one's signature.
        signatures = [e for e in reader.embedded_signatures if e.sig_object_type == "/Sig"]
        latest = sorted(signatures, key=lambda e: e.signed_revision)[-MAX_SIGNATURES:]
        for embedded in reversed(latest):
            checks.append(_check_one(embedded, reader.xrefs.total_revisions, data))
            if checks[-1].status == VALID:
                break
    return checks


def _rank(check: SignatureCheck) -> tuple[bool, bool, int]:
    """Valid first; then an intact signature on a modified document, which says the most."""
    return check.status == VALID, check.modification is not None, check.covers.revision if check.covers else 0


def check_pdf(data: bytes, unverifiable_image: bool) -> SignatureCheck:
    """The best signature found in a PDF, or why there is none."""
    checks: list[SignatureCheck] = []
    if _FILLED.search(data):
        try:
            checks = _validate_all(data)
        except _Exhausted:
            return SignatureCheck(INVALID, detail=DETAILS["complex"], modification="unchecked")
        except Exception as exc:  # a broken signature structure is no signature, never a crash
            return SignatureCheck(INVALID, detail=f"signature illisible ({type(exc).__name__})")
    if checks:
        return max(checks, key=_rank)
    if unverifiable_image:
        return SignatureCheck(UNVERIFIED, detail="scan ou image de signature : à vérifier visuellement")
    if _FIELD.search(data):
        return SignatureCheck(EMPTY, detail="champ de signature vide")
    return SignatureCheck(NONE, detail="aucune signature")
