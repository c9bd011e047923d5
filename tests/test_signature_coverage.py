"""A signature counts only for the document it covers.

Every PDF here is signed for real with pyHanko, then changed the way a forger
or a careless depositor would: by an incremental update appended after the
signature, written with pypdf, pyHanko or by hand. What counts is what a
person would read: pages, content streams, annotations present at signing.
What DocMDP permits (later signatures, filled form fields, metadata, and
comments unless a certification forbids them) keeps the signature; comments
are pointed out to whoever reads the report.
"""

import functools
import json
import mailbox
from decimal import Decimal
from email import message_from_bytes, policy

import jsonschema
import pypdfium2 as pdfium
import pytest

from pipeline.intake import take_in
from pipeline.signature import MAX_LATER_REVISIONS, check_pdf
from tests import builders as b
from tests.test_hostile import intake

MODIFIED = "modifiée après signature"


@pytest.fixture(scope="module")
def convention(renderer, resources):
    """The rendered convention laid out as PDF, unsigned: what a forger slips under a signature."""
    docs = b.rendered(renderer, resources, b.Entity(), "2021-045-lot2")
    return b.convention_pdf(docs["convention"], signature="none")


signed = b.signed  # once per session: most changes here are made to the same signed convention


def with_field(pdf: bytes) -> bytes:
    """An empty text field in a blank space of the last page, as a form leaves room to be filled."""
    return b.with_text_field(pdf, rect=b.BLANK_SPOT, page=-1)


@functools.cache
def letter() -> bytes:
    return b.text_pdf(["Objet : accusé de réception", "Nous avons bien reçu votre courrier."])


CHANGES_AFTER_SIGNING = {
    "every page replaced by the convention": lambda pdf, other: b.pages_replaced(signed(pdf), other),
    "the convention's page appended": lambda pdf, other: b.page_appended(signed(pdf), other),
    "the convention's page drawn over the signed one": lambda pdf, other: b.page_overlaid(signed(pdf), other),
    "the content stream rewritten in place": lambda pdf, other: b.content_rewritten(signed(pdf)),
    "text added as a new content stream": lambda pdf, other: b.text_added(signed(pdf)),
    "the page turned upside down": lambda pdf, other: b.page_rotated(signed(pdf)),
}


@pytest.mark.parametrize("change", CHANGES_AFTER_SIGNING)
def test_a_change_appended_after_the_signature_voids_it(convention, change):
    check = check_pdf(CHANGES_AFTER_SIGNING[change](letter(), convention), unverifiable_image=False)
    assert check.status == "invalid" and not check.signed
    assert MODIFIED in check.detail and check.modification == "other"
    assert (check.covers.entire_file, check.covers.revision, check.covers.revisions) == (False, 2, 3)
    assert check.covers.end < check.covers.file_bytes


PERMITTED_AFTER_SIGNING = {
    "a second signature": (lambda pdf: b.countersigned(signed(pdf)), "none"),
    "an empty signature field for a second signatory": (
        lambda pdf: b.signature_field_added(signed(pdf)),
        "form_filling",
    ),
    "an empty signature field whose widget is a separate kid": (
        lambda pdf: b.signature_field_with_widget_kid(signed(pdf)),
        "form_filling",
    ),
    "a form field left empty at signing, filled in": (
        lambda pdf: b.field_filled(signed(with_field(pdf))),
        "form_filling",
    ),
    "a second signature with a visible stamp in a blank space": (
        lambda pdf: b.visibly_countersigned(signed(pdf), b.BLANK_SPOT),
        "none",
    ),
    "the document information rewritten": (lambda pdf: b.info_rewritten(signed(pdf)), "lta_updates"),
    "a document timestamp (PAdES-LTA)": (lambda pdf: b.timestamped(signed(pdf)), "lta_updates"),
    f"{MAX_LATER_REVISIONS} metadata revisions": (
        lambda pdf: b.many_revisions(signed(pdf), MAX_LATER_REVISIONS),
        "lta_updates",
    ),
}


@pytest.mark.parametrize("change", PERMITTED_AFTER_SIGNING)
def test_what_docmdp_permits_after_a_signature_keeps_it(convention, change):
    build, modification = PERMITTED_AFTER_SIGNING[change]
    check = check_pdf(build(convention), unverifiable_image=False)
    assert check.status == "valid" and check.signed, check.detail
    assert check.modification == modification and MODIFIED not in check.detail


@pytest.mark.parametrize(
    "permission, counts", [("FILL_FORMS", True), ("ANNOTATE", True), ("NO_CHANGES", False)]
)
def test_a_form_filled_after_a_certification_counts_only_if_its_docmdp_permits_it(
    convention, permission, counts
):
    filled = b.field_filled(b.certified(with_field(convention), permission))
    check = check_pdf(filled, unverifiable_image=False)
    assert check.signed is counts and check.modification == "form_filling"
    assert (MODIFIED in check.detail) is not counts


def test_a_countersignature_after_a_change_signs_the_changed_document(convention):
    data = b.countersigned(b.pages_replaced(signed(letter()), convention), name="Adjoint au maire")
    check = check_pdf(data, unverifiable_image=False)
    assert check.status == "valid" and check.signer == "Adjoint au maire"
    assert check.covers.entire_file and (check.covers.revision, check.covers.revisions) == (4, 4)


def test_a_change_after_two_signatures_voids_both(convention):
    data = b.pages_replaced(b.countersigned(signed(letter())), convention)
    check = check_pdf(data, unverifiable_image=False)
    assert check.status == "invalid" and MODIFIED in check.detail
    assert (check.covers.revision, check.covers.revisions) == (3, 4)  # the latest of the two says the most


def test_a_signature_over_the_whole_file_says_what_it_covers_and_who_signed(convention):
    data = signed(convention)
    check = check_pdf(data, unverifiable_image=False)
    assert check.status == "valid" and check.signer == "Maire"
    assert check.covers.as_dict() == {
        "bytes": [0, len(data)],
        "file_bytes": len(data),
        "entire_file": True,
        "revision": 2,
        "revisions": 2,
    }
    assert check.modification == "none"


# -- Comments added after signing ---------------------------------------------------------------

ANNOTATED = "des annotations (commentaires) ont été ajoutées après la signature"

COMMENT_KINDS = {  # /Subtype of the comment, as PDF readers write them
    "a sticky note with its popup": "Text",
    "a highlight": "Highlight",
    "an underline": "Underline",
    "a free-text comment drawn over the text": "FreeText",
    "a free-hand ink drawing": "Ink",
    "a rectangle": "Square",
    "an 'approved' stamp": "Stamp",
}
COMMENTS_AFTER_SIGNING = {
    name: lambda pdf, subtype=subtype: b.comment_added(signed(pdf), subtype)
    for name, subtype in COMMENT_KINDS.items()
} | {
    "a free-text comment written by pypdf, which copies the inherited media box onto the page": (
        lambda pdf: b.annotation_added(signed(pdf))
    ),
    "a comment added to an annotation array kept as an indirect object": (
        lambda pdf: b.comment_added(signed(b.indirect_annots(pdf)), "Highlight")
    ),
    "a comment listed before the signature's widget": (
        lambda pdf: b.annotations_listed(signed(pdf), lambda old, comment: [comment, *old])
    ),
    "comments added in two successive updates": (
        lambda pdf: b.comment_added(b.comment_added(signed(pdf), "Text"), "Highlight")
    ),
    "a comment added, then its text edited in a later update": (
        lambda pdf: b.comment_edited(b.comment_added(signed(pdf), "FreeText"))
    ),
    "a comment, then a document timestamp": lambda pdf: b.timestamped(b.comment_added(signed(pdf))),
    "a comment, then an empty signature field for a second signatory": (
        lambda pdf: b.signature_field_added(b.comment_added(signed(pdf), "Ink"))
    ),
    "a comment, then a form field filled in": (
        lambda pdf: b.field_filled(b.comment_added(signed(with_field(pdf)), "Text"))
    ),
}


@pytest.mark.parametrize("change", COMMENTS_AFTER_SIGNING)
def test_a_comment_added_after_a_signature_keeps_it_and_is_pointed_out(convention, change):
    check = check_pdf(COMMENTS_AFTER_SIGNING[change](convention), unverifiable_image=False)
    assert check.status == "valid" and check.signed, check.detail
    assert check.modification == "annotations" and ANNOTATED in check.detail and MODIFIED not in check.detail


NOT_COMMENT_KINDS = {  # annotations that act, play, carry a file or belong to a form
    "a link that launches a program": ("Link", None),
    "a link that runs JavaScript": ("Link", {"/A": b.JAVASCRIPT}),
    "a widget that belongs to no form field": ("Widget", None),
    "a screen (media) annotation": ("Screen", None),
    "a rich media annotation": ("RichMedia", None),
    "a file attachment": ("FileAttachment", None),
    "a sticky note that runs JavaScript when the page opens": ("Text", {"/AA": {"/PO": b.JAVASCRIPT}}),
}
ALSO_IN_THE_SAME_UPDATE = {  # what comes with a comment, in the update that adds it
    "its popup replaced by a link running JavaScript": b.popup_acting,
    "a new content stream": b.new_content_stream,
    "the content stream rewritten in place": b.content_stream_rewritten,
    "the page turned upside down": b.page_rotated_too,
    "the page's media box cut down": b.media_box_shrunk_too,
    "the page made to show another page's content": b.contents_borrowed_too,
}
NOT_COMMENTS = (
    {
        name: lambda pdf, kind=kind: b.comment_added(signed(pdf), *kind)
        for name, kind in NOT_COMMENT_KINDS.items()
    }
    | {
        f"a comment and {what} in the same update": lambda pdf, also=also: b.comment_added(
            signed(pdf), "Text", also=also
        )
        for what, also in ALSO_IN_THE_SAME_UPDATE.items()
    }
    | {
        "a comment replacing the page's annotations, the signature's widget dropped": (
            lambda pdf: b.annotations_listed(signed(pdf), lambda old, comment: [comment])
        ),
        "a comment added and a comment present at signing dropped": (
            lambda pdf: b.annotations_listed(
                signed(b.comment_added(pdf, "Square")), lambda old, c: [*old[1:], c]
            )
        ),
        "a comment added and the annotations present at signing reordered": (
            lambda pdf: b.annotations_listed(
                signed(b.comment_added(pdf, "Square")), lambda old, c: [*old[::-1], c]
            )
        ),
        "a stamp present at signing also listed on another page": (
            lambda pdf: b.annotation_shown_elsewhere(signed(b.comment_added(pdf, "Stamp")))
        ),
        "a comment present at signing given another text": (
            lambda pdf: b.comment_edited(signed(b.comment_added(pdf, "FreeText")))
        ),
    }
)


@pytest.mark.parametrize("change", NOT_COMMENTS)
def test_an_annotation_that_is_no_mere_comment_added_after_a_signature_voids_it(convention, change):
    check = check_pdf(NOT_COMMENTS[change](convention), unverifiable_image=False)
    assert check.status == "invalid" and not check.signed
    assert MODIFIED in check.detail and check.modification == "other"
    assert check.covers.revisions == check.covers.revision + 1 and not check.covers.entire_file


@pytest.mark.parametrize("subtype", ["Text", "Highlight", "FreeText", "Stamp"])
@pytest.mark.parametrize(
    "permission, counts", [("ANNOTATE", True), ("FILL_FORMS", False), ("NO_CHANGES", False)]
)
def test_a_comment_after_a_certification_counts_only_if_its_docmdp_permits_annotations(
    convention, permission, counts, subtype
):
    check = check_pdf(b.comment_added(b.certified(convention, permission), subtype), unverifiable_image=False)
    assert check.signed is counts and check.modification == "annotations"
    assert (ANNOTATED in check.detail) is counts and (MODIFIED in check.detail) is not counts
    assert "annotations (commentaires)" in check.detail


# -- Widgets added or changed after signing -----------------------------------------------------

COVERED = "recouvre le texte signé"
SHOWN = "visible sur la page mais non signé, à examiner"
OVER_THE_TEXT = (300, 50, 500, 100)  # 200 x 50, over the first page's last lines of text
MOST_OF_A_PAGE = (30, 60, 565, 600)  # blank on the convention's last page, but most of it
COVER = "a white box and other text"


def glyph_bar(pdf: bytes, word: str = "maximum", page: int = 0) -> tuple:
    """A bar 2 points wide over the middle of the first glyph of `word` on a page (found with pdfium)."""
    document = pdfium.PdfDocument(pdf)
    textpage = document[page % len(document)].get_textpage()
    left, bottom, right, top = textpage.get_charbox(textpage.get_text_range().index(word))
    middle = (left + right) / 2
    return middle - 1, bottom, middle + 1, top


def under_the_last_line(pdf: bytes, page: int = -1, graze: float = 0.5) -> tuple:
    """A 200 x 50 box under a page's last line of text, its top `graze` points into the glyphs' boxes."""
    document = pdfium.PdfDocument(pdf)
    textpage = document[page % len(document)].get_textpage()
    left, bottom, _, _ = textpage.get_rect(textpage.count_rects() - 1)
    return left, bottom + graze - 50, left + 200, bottom + graze


DRAWN_OVER_THE_SIGNED_TEXT = {
    "the attack: a new empty signature field drawing a white box and other text over the page": (
        lambda pdf: b.signature_widget_added(signed(pdf))
    ),
    "the same, the widget a separate kid of the field": (
        lambda pdf: b.signature_widget_added(signed(pdf), kid=True)
    ),
    **{
        f"a new empty signature field over the page drawing {kind}": (
            lambda pdf, kind=kind: b.signature_widget_added(signed(pdf), appearance=kind)
        )
        for kind in ("text only", "thick white strokes", "an image", "a form XObject")
    },
    "a stamp-sized white box and other text over a few signed lines": (
        lambda pdf: b.signature_widget_added(signed(pdf), rect=OVER_THE_TEXT)
    ),
    "a white bar 2 points wide over one glyph": (
        lambda pdf: b.signature_widget_added(signed(pdf), glyph_bar(pdf), "thick white strokes")
    ),
    "a new signature field whose annotation is a stamp, not a widget": (
        lambda pdf: b.signature_widget_added(signed(pdf), entries={"/Subtype": "/Stamp"})
    ),
    "a new signature field whose kid annotation is a rectangle comment": (
        lambda pdf: b.signature_widget_added(signed(pdf), entries={"/Subtype": "/Square"}, kid=True)
    ),
    "a new signature field without appearance, a caption (/MK) over the page": (
        lambda pdf: b.signature_widget_added(signed(pdf), appearance=None, entries={"/MK": {"/CA": "10 EUR"}})
    ),
    "a new signature field flagged hidden, its appearance over the page": (
        lambda pdf: b.signature_widget_added(signed(pdf), entries={"/F": 2})
    ),
    "a new signature field without appearance, a white background (/MK) over the page": (
        lambda pdf: b.signature_widget_added(
            signed(pdf), appearance=None, entries={"/MK": {"/BG": [1, 1, 1]}}
        )
    ),
    "a text field over the text, left empty at signing, filled in": (
        lambda pdf: b.field_filled(signed(b.with_text_field(pdf)))
    ),
    "a text field over the page, filled in with a white box and other text": (
        lambda pdf: b.field_filled(signed(b.with_text_field(pdf, rect=b.PAGE)), appearance=COVER)
    ),
    "a check box over the page, ticked, its ticked state a white box and other text": (
        lambda pdf: b.check_box_ticked(signed(b.with_check_box(pdf, b.PAGE)))
    ),
    "a text field over the page, hidden at signing, shown after": (
        lambda pdf: b.field_shown(signed(b.with_text_field(pdf, rect=b.PAGE, appearance=COVER, flags=2)))
    ),
    "a value its signed appearance did not show, redrawn over the text (/NeedAppearances)": (
        lambda pdf: b.appearances_regenerated(
            signed(b.with_text_field(pdf, appearance="nothing", value="montant maximum : 10 EUR"))
        )
    ),
    "a second signature stamped over the page, which does not hold itself": (
        lambda pdf: b.last_signature_broken(b.visibly_countersigned(signed(pdf), b.PAGE, page=0))
    ),
}


@pytest.mark.parametrize("change", DRAWN_OVER_THE_SIGNED_TEXT)
def test_a_widget_drawn_over_the_signed_text_after_a_signature_voids_it(convention, change):
    check = check_pdf(DRAWN_OVER_THE_SIGNED_TEXT[change](convention), unverifiable_image=False)
    assert check.status == "invalid" and not check.signed
    assert MODIFIED in check.detail and f"{COVERED} (page 1)" in check.detail
    assert check.modification == "other" and not check.covers.entire_file


DRAWN_OVER_MUCH_OF_A_PAGE = {
    "a new empty signature field drawing text": (
        lambda pdf: b.signature_widget_added(signed(pdf), MOST_OF_A_PAGE, "text only", page=-1)
    ),
    "a text field, left empty at signing, filled in": (
        lambda pdf: b.field_filled(
            signed(b.with_text_field(pdf, rect=MOST_OF_A_PAGE, page=-1)), appearance="text only"
        )
    ),
    "a second signature's stamp, the second signature not holding itself": (
        lambda pdf: b.last_signature_broken(b.visibly_countersigned(signed(pdf), MOST_OF_A_PAGE))
    ),
}


@pytest.mark.parametrize("change", DRAWN_OVER_MUCH_OF_A_PAGE)
def test_a_widget_drawn_over_most_of_a_blank_page_after_a_signature_voids_it(convention, change):
    check = check_pdf(DRAWN_OVER_MUCH_OF_A_PAGE[change](convention), unverifiable_image=False)
    assert check.status == "invalid" and MODIFIED in check.detail and check.modification == "other"
    assert "occupe 60 % de la page 5 (un tampon en occupe au plus 10 %)" in check.detail


ACTING_WIDGETS = {
    "a new signature field that runs JavaScript when the page opens (/AA)": (
        {"/AA": {"/PO": b.JAVASCRIPT}},
        False,
    ),
    "a new signature field that runs JavaScript when clicked (/A)": ({"/A": b.JAVASCRIPT}, False),
    "a new signature field whose widget, a separate kid, launches a program": (
        {"/A": {"/S": "/Launch", "/F": "calc.exe"}},
        True,
    ),
}


@pytest.mark.parametrize("change", ACTING_WIDGETS)
def test_a_widget_that_acts_added_after_a_signature_voids_it(convention, change):
    entries, kid = ACTING_WIDGETS[change]
    data = b.signature_widget_added(signed(convention), b.BLANK_SPOT, None, page=-1, entries=entries, kid=kid)
    check = check_pdf(data, unverifiable_image=False)
    assert check.status == "invalid" and check.modification == "other"
    assert MODIFIED in check.detail and "porte une action" in check.detail


def test_an_action_given_after_a_signature_to_a_field_present_at_signing_voids_it(convention):
    check = check_pdf(b.field_action_added(signed(with_field(convention))), unverifiable_image=False)
    assert check.status == "invalid" and MODIFIED in check.detail and check.modification == "other"


DRAWING_NOTHING = {
    "an empty signature field as pyHanko places it (an empty appearance)": (
        lambda pdf: b.signature_field_added(signed(pdf))
    ),
    "an empty signature field over the page, without appearance": (
        lambda pdf: b.signature_widget_added(signed(pdf), appearance=None)
    ),
    "an empty signature field over the page, its appearance empty": (
        lambda pdf: b.signature_widget_added(signed(pdf), appearance="nothing")
    ),
    "an empty signature field over the page, its appearance marked content only (% DSBlank)": (
        lambda pdf: b.signature_widget_added(signed(pdf), appearance="a marked, empty text")
    ),
    "an empty signature field, a separate kid, its appearance empty": (
        lambda pdf: b.signature_widget_added(signed(pdf), OVER_THE_TEXT, "nothing", kid=True)
    ),
}


@pytest.mark.parametrize("change", DRAWING_NOTHING)
def test_a_widget_that_draws_nothing_added_after_a_signature_keeps_it_silently(convention, change):
    check = check_pdf(DRAWING_NOTHING[change](convention), unverifiable_image=False)
    assert check.status == "valid" and check.modification == "form_filling", check.detail
    assert SHOWN not in check.detail and MODIFIED not in check.detail


DRAWN_IN_A_BLANK_SPACE = {
    "an empty signature field with a stamp": (
        lambda pdf: b.signature_widget_added(signed(pdf), b.BLANK_SPOT, "a signature stamp", page=-1),
        "un champ de signature ajouté après la signature (page 5)",
    ),
    "an empty signature field with a white box and other text": (
        lambda pdf: b.signature_widget_added(signed(pdf), b.BLANK_SPOT, COVER, page=-1),
        "un champ de signature ajouté après la signature (page 5)",
    ),
    "a second signature's stamp, the second signature not holding itself": (
        lambda pdf: b.last_signature_broken(b.visibly_countersigned(signed(pdf), b.BLANK_SPOT)),
        "le tampon d'une signature ajoutée ensuite (page 5)",
    ),
    "a stamp whose top grazes the boxes of the last line's glyphs": (
        lambda pdf: b.signature_widget_added(
            signed(pdf), under_the_last_line(pdf), "a signature stamp", page=-1
        ),
        "un champ de signature ajouté après la signature (page 5)",
    ),
    "a text field filled in": (
        lambda pdf: b.field_filled(signed(with_field(pdf))),
        "un champ de formulaire rempli ou modifié après la signature (page 5)",
    ),
    "a small check box ticked": (
        lambda pdf: b.check_box_ticked(signed(b.with_check_box(pdf, (60, 300, 75, 315), -1, "text only"))),
        "un champ de formulaire rempli ou modifié après la signature (page 5)",
    ),
    "a text field with a script present at signing, filled in": (
        lambda pdf: b.field_filled(signed(b.field_action_added(with_field(pdf)))),
        "un champ de formulaire rempli ou modifié après la signature (page 5)",
    ),
}


@pytest.mark.parametrize("change", DRAWN_IN_A_BLANK_SPACE)
def test_a_small_widget_drawn_in_a_blank_space_after_a_signature_keeps_it_and_is_pointed_out(
    convention, change
):
    build, what = DRAWN_IN_A_BLANK_SPACE[change]
    check = check_pdf(build(convention), unverifiable_image=False)
    assert check.status == "valid" and check.modification == "form_filling", check.detail
    assert f"{SHOWN} : {what}" in check.detail and MODIFIED not in check.detail


# -- End to end ----------------------------------------------------------------------------------


@pytest.fixture
def parts(renderer, resources):
    entity = b.Entity()
    docs = b.rendered(renderer, resources, entity, "2021-045-lot2")
    plain = b.convention_pdf(docs["convention"], signature="none")
    return {
        "entity": entity,
        "plain": plain,
        "annex": docs["annex"],
        "order": b.order_pdf(entity, Decimal("1000")),
    }


def deposit_with(parts, convention: bytes) -> bytes:
    return b.zip_of(
        [("Convention signée.pdf", convention), ("Annexe.xlsx", parts["annex"]), ("EJ.pdf", parts["order"])]
    )


def region_body(ctx) -> str:
    [message] = mailbox.Maildir(ctx.workspace.outbox / "Hauts-de-France@resah.fr", create=False)
    return message_from_bytes(message.as_bytes(), policy=policy.default).get_body(("plain",)).get_content()


def test_the_page_swap_attack_is_an_unsigned_convention_and_every_reader_is_told_why(
    intake_ctx, drop, parts, resources
):
    forged = b.pages_replaced(signed(letter()), parts["plain"])
    report = take_in(drop(deposit_with(parts, forged), form=b.form(parts["entity"])), intake_ctx)
    assert report.variant == "2021-045-lot2"  # the swapped-in pages are what csac reads
    assert [p.code for p in report.problems] == ["convention_unsigned"]
    assert MODIFIED in report.problems[0].message and MODIFIED in report.signature.detail
    body = region_body(intake_ctx)
    assert f"Signature : {report.signature.detail}" in body and body.count(MODIFIED) >= 2
    signature = report.signature
    assert (signature.status, signature.signer, signature.modification) == (
        "invalid",
        "Maire",
        "other",
    )
    covers = signature.covers
    assert (covers.entire_file, covers.revision, covers.revisions) == (False, 2, 3)
    assert covers.start == 0 and covers.end < covers.file_bytes
    jsonschema.validate(report.to_json(), json.loads(resources.schema("intake-report").read_text()))


def test_a_countersigned_convention_is_complete_and_shows_the_last_signer(intake_ctx, drop, parts, resources):
    countersigned = b.countersigned(signed(parts["plain"]), name="Adjoint au maire")
    report = take_in(drop(deposit_with(parts, countersigned), form=b.form(parts["entity"])), intake_ctx)
    assert report.status == "complete" and report.signature.signer == "Adjoint au maire"
    assert report.signature.covers.entire_file and report.signature.covers.revision == 3
    jsonschema.validate(report.to_json(), json.loads(resources.schema("intake-report").read_text()))


def test_a_convention_commented_after_signing_is_complete_and_the_region_is_told_to_read_the_comments(
    intake_ctx, drop, parts, resources
):
    commented = b.comment_added(signed(parts["plain"]), "FreeText")
    report = take_in(drop(deposit_with(parts, commented), form=b.form(parts["entity"])), intake_ctx)
    assert report.status == "complete" and report.problems == ()
    signature = report.signature
    assert (signature.status, signature.modification) == ("valid", "annotations")
    assert ANNOTATED in signature.detail and f"Signature : {signature.detail}" in region_body(intake_ctx)
    jsonschema.validate(report.to_json(), json.loads(resources.schema("intake-report").read_text()))


@pytest.mark.parametrize("permission", ["FILL_FORMS", "NO_CHANGES"])
def test_a_convention_commented_after_a_certification_that_forbids_it_is_unsigned(
    intake_ctx, drop, parts, permission
):
    commented = b.comment_added(b.certified(parts["plain"], permission), "Highlight")
    report = take_in(drop(deposit_with(parts, commented), form=b.form(parts["entity"])), intake_ctx)
    assert [p.code for p in report.problems] == ["convention_unsigned"]
    assert MODIFIED in report.problems[0].message and "annotations" in report.problems[0].message
    assert (report.signature.status, report.signature.modification) == ("invalid", "annotations")


@pytest.mark.parametrize(
    "forge",
    [
        lambda pdf: b.signature_widget_added(signed(pdf)),
        lambda pdf: b.field_filled(signed(b.with_text_field(pdf, rect=b.PAGE)), appearance=COVER),
    ],
    ids=["a new empty signature field", "a text field filled in"],
)
def test_a_widget_covering_the_signed_text_is_an_unsigned_convention_and_every_reader_is_told_why(
    intake_ctx, drop, parts, resources, forge
):
    report = take_in(
        drop(deposit_with(parts, forge(parts["plain"])), form=b.form(parts["entity"])), intake_ctx
    )
    assert report.variant == "2021-045-lot2"  # what csac reads is the text under the widget
    assert [p.code for p in report.problems] == ["convention_unsigned"]
    message = report.problems[0].message
    assert MODIFIED in message and f"{COVERED} (page 1)" in message
    assert f"Signature : {report.signature.detail}" in region_body(intake_ctx)
    assert (report.signature.status, report.signature.modification) == ("invalid", "other")
    jsonschema.validate(report.to_json(), json.loads(resources.schema("intake-report").read_text()))


def test_a_field_filled_in_a_blank_space_after_signing_is_complete_and_the_region_is_told_to_look(
    intake_ctx, drop, parts
):
    filled = b.field_filled(signed(with_field(parts["plain"])))
    report = take_in(drop(deposit_with(parts, filled), form=b.form(parts["entity"])), intake_ctx)
    assert report.status == "complete" and report.problems == ()
    assert SHOWN in report.signature.detail
    assert f"Signature : {report.signature.detail}" in region_body(intake_ctx)


# -- Bounded cost: a `csac intake` process, measured ---------------------------------------------

HOSTILE = {
    "500 revisions after the signature": (lambda pdf: b.many_revisions(signed(pdf), 500), "500 révisions"),
    "an object graph whose paths double 40 times": (
        lambda pdf: b.info_rewritten(signed(b.doubling_graph(pdf, 40))),
        "trop complexe",
    ),
    "20,000 comments after the signature": (
        lambda pdf: b.many_comments(signed(pdf), 20_000, appearance=False),
        "trop complexe",
    ),
    "150 stamped signature fields added after the signature": (
        lambda pdf: b.many_signature_fields(signed(pdf), 150),
        "trop nombreux ou illisibles",
    ),
    "1,000 stamped signature fields added after the signature": (
        lambda pdf: b.many_signature_fields(signed(pdf), 1_000),
        "trop complexe",
    ),
    "300,000 cross-reference entries after the signature": (
        lambda pdf: b.huge_xref(signed(pdf), 300_000),
        "table des objets démesurée",
    ),
    "300,000 space-padded entries under a small /Size": (
        lambda pdf: b.disguised_xref(signed(pdf), 300_000),
        "table des objets démesurée",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_history_after_a_signature_is_not_counted_within_bounds(tmp_path, parts, case):
    build, why = HOSTILE[case]
    stored = [b.Raw(name.encode(), data, method=0) for name, data in [
        ("Convention.pdf", build(parts["plain"])), ("Annexe.xlsx", parts["annex"]), ("EJ.pdf", parts["order"]),
    ]]  # fmt: skip
    report, peak_mb, seconds = intake(tmp_path / "work", b.raw_zip(stored))
    assert [p["code"] for p in report["problems"]] == ["convention_unsigned"], report["problems"]
    assert why in report["signature"]["detail"] and "a pu être " + MODIFIED in report["signature"]["detail"]
    assert peak_mb < 200 and seconds < 20, f"{case}: {peak_mb:.0f} MB, {seconds:.1f} s"
    print(f"{case}: {peak_mb:.0f} MB {seconds:.2f} s")
