"""Is the convention signed? PAdES / PKCS#7 signatures checked offline with pyHanko.

A signature counts when its field has a value that pyHanko finds intact
(the signed bytes are unchanged) and valid (the cryptography holds). Trust
in the signer's certificate needs the network and a trust list, so it is
recorded, not required. An empty signature field does not count; a scan or
a pasted signature image is "unverified": a person has to look at it.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

# pyHanko logs every untrusted self-signed chain with a traceback; the status says it already.
logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)

VALID, INVALID, EMPTY, UNVERIFIED, NONE = "valid", "invalid", "empty", "unverified", "none"


@dataclass(frozen=True)
class SignatureCheck:
    status: str  # valid, invalid, empty, unverified or none
    signer: str | None = None
    trusted: bool = False
    detail: str = ""

    @property
    def signed(self) -> bool:
        return self.status in (VALID, UNVERIFIED)


def _validate(embedded) -> SignatureCheck:
    status = validate_pdf_signature(embedded, ValidationContext(trust_roots=[], allow_fetching=False))
    signer = status.signing_cert.subject.human_friendly if status.signing_cert else None
    if status.intact and status.valid:
        detail = "signature électronique intacte et valide" + (
            "" if status.trusted else " (certificat non vérifié hors ligne)"
        )
        return SignatureCheck(VALID, signer, bool(status.trusted), detail)
    return SignatureCheck(
        INVALID, signer, False, "signature électronique invalide : document modifié après signature"
    )


def check_pdf(data: bytes, has_images: bool) -> SignatureCheck:
    """The best signature found in a PDF, or why there is none."""
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = reader.embedded_signatures
        checks = [_validate(sig) for sig in signatures]
        empty = [f for f, value, _ in enumerate_sig_fields(reader, filled_status=False) if value is None]
    except (PdfError, ValueError, KeyError, TypeError, OSError) as exc:
        return SignatureCheck(NONE, detail=f"structure de signature illisible ({exc})")
    if checks:
        return next((c for c in checks if c.status == VALID), checks[0])
    if has_images:
        return SignatureCheck(UNVERIFIED, detail="scan ou image de signature : à vérifier visuellement")
    if empty:
        return SignatureCheck(EMPTY, detail="champ de signature vide")
    return SignatureCheck(NONE, detail="aucune signature")
