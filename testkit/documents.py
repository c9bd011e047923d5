"""Documents as a signatory's side makes them: SIRETs that pass the check, a convention laid out as PDF
the way Word exports it (ligatures, the mailbox list letter-spaced as in the seed)."""

from __future__ import annotations

from stdnum import luhn

from pipeline import sample


def make_siret(n: int) -> str:
    """The n-th SIRET of a made-up public body (SIREN starting with 2), both check digits right."""
    siren = f"2{n:07d}"
    siren += luhn.calc_check_digit(siren)
    body = siren + "0001"
    return body + luhn.calc_check_digit(body)


def spaced(siret: str) -> str:
    return f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}"


def laid_out(docx: bytes, letter_spaced: bool = True) -> bytes:
    """The convention as Word exports it to PDF, unsigned."""
    paragraphs = [sample.word_ligatures(p) for p in sample.docx_paragraphs(docx)]
    if letter_spaced:  # the mailbox list comes out letter-spaced, as in the seed
        paragraphs = [
            "  ".join(" ".join(w) for w in p.split(" ")) if "@resah.fr" in p else p for p in paragraphs
        ]
    return sample.text_pdf(paragraphs, "Convention")
