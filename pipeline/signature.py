"""Is the convention signed? PAdES / PKCS#7 signatures checked offline with pyHanko.

A signature counts when its field has a value that pyHanko finds intact
(the signed bytes are unchanged) and valid (the cryptography holds). Trust
in the signer's certificate needs the network and a trust list, so it is
recorded, not required. An empty signature field does not count; a scan or
a pasted signature image is "unverified": a person has to look at it.

pyHanko is loaded only for PDFs that carry a filled signature: its /ByteRange
has to sit in the file itself, never in a compressed object stream.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass

VALID, INVALID, EMPTY, UNVERIFIED, NONE = "valid", "invalid", "empty", "unverified", "none"
_FILLED = re.compile(rb"/ByteRange\s*\[")
_FIELD = re.compile(rb"/FT\s*/Sig\b")


@dataclass(frozen=True)
class SignatureCheck:
    status: str  # valid, invalid, empty, unverified or none
    signer: str | None = None
    trusted: bool = False
    detail: str = ""

    @property
    def signed(self) -> bool:
        return self.status in (VALID, UNVERIFIED)


def _validate_all(data: bytes) -> list[SignatureCheck]:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    # pyHanko logs every untrusted self-signed chain with a traceback; the status says it already.
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
    checks = []
    for embedded in PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures:
        status = validate_pdf_signature(embedded, ValidationContext(trust_roots=[], allow_fetching=False))
        signer = status.signing_cert.subject.human_friendly if status.signing_cert else None
        if status.intact and status.valid:
            offline = "" if status.trusted else " (certificat non vérifié hors ligne)"
            checks.append(
                SignatureCheck(
                    VALID, signer, bool(status.trusted), f"signature électronique intacte et valide{offline}"
                )
            )
        else:
            checks.append(
                SignatureCheck(
                    INVALID,
                    signer,
                    False,
                    "signature électronique invalide : document modifié après signature",
                )
            )
    return checks


def check_pdf(data: bytes, unverifiable_image: bool) -> SignatureCheck:
    """The best signature found in a PDF, or why there is none."""
    checks: list[SignatureCheck] = []
    if _FILLED.search(data):
        try:
            checks = _validate_all(data)
        except Exception as exc:  # a broken signature structure is no signature, never a crash
            return SignatureCheck(INVALID, detail=f"signature illisible ({type(exc).__name__})")
    if checks:
        return next((c for c in checks if c.status == VALID), checks[0])
    if unverifiable_image:
        return SignatureCheck(UNVERIFIED, detail="scan ou image de signature : à vérifier visuellement")
    if _FIELD.search(data):
        return SignatureCheck(EMPTY, detail="champ de signature vide")
    return SignatureCheck(NONE, detail="aucune signature")
