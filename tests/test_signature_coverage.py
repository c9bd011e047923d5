"""A signature counts only for the document it covers.

Every PDF here is signed for real with pyHanko, then changed the way a forger
or a careless depositor would: by an incremental update appended after the
signature, written with pypdf, pyHanko or by hand. What counts is what a
person would read: pages, content streams, annotations present at signing.
What DocMDP permits (later signatures, filled form fields, metadata, and
comments unless a certification forbids them) keeps the signature; comments
are pointed out to whoever reads the report.
"""

import json
import mailbox
from decimal import Decimal
from email import message_from_bytes, policy

import jsonschema
import pytest

from pipeline import sample
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


def signed(pdf: bytes) -> bytes:
    return sample.sign_pdf(pdf, b.IDENTITY)


def letter() -> bytes:
    return sample.text_pdf(["Objet : accusé de réception", "Nous avons bien reçu votre courrier."])


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
        lambda pdf: b.field_filled(signed(b.with_text_field(pdf))),
        "form_filling",
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
    filled = b.field_filled(b.certified(b.with_text_field(convention), permission))
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
    assert check.as_dict()["covers"] == {
        "bytes": [0, len(data)],
        "file_bytes": len(data),
        "entire_file": True,
        "revision": 2,
        "revisions": 2,
    }
    assert check.as_dict()["modification"] == "none"


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
        lambda pdf: b.field_filled(b.comment_added(signed(b.with_text_field(pdf)), "Text"))
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
    assert report["variant"] == "2021-045-lot2"  # the swapped-in pages are what csac reads
    assert [p["code"] for p in report["problems"]] == ["convention_unsigned"]
    assert MODIFIED in report["problems"][0]["message"] and MODIFIED in report["signature"]["detail"]
    body = region_body(intake_ctx)
    assert f"Signature : {report['signature']['detail']}" in body and body.count(MODIFIED) >= 2
    signature = report["signature"]
    assert (signature["status"], signature["signer"], signature["modification"]) == (
        "invalid",
        "Maire",
        "other",
    )
    covers = signature["covers"]
    assert (covers["entire_file"], covers["revision"], covers["revisions"]) == (False, 2, 3)
    assert covers["bytes"][0] == 0 and covers["bytes"][1] < covers["file_bytes"]
    jsonschema.validate(report, json.loads(resources.schema("intake-report").read_text()))


def test_a_countersigned_convention_is_complete_and_shows_the_last_signer(intake_ctx, drop, parts, resources):
    countersigned = b.countersigned(signed(parts["plain"]), name="Adjoint au maire")
    report = take_in(drop(deposit_with(parts, countersigned), form=b.form(parts["entity"])), intake_ctx)
    assert report["status"] == "complete" and report["signature"]["signer"] == "Adjoint au maire"
    assert report["signature"]["covers"]["entire_file"] and report["signature"]["covers"]["revision"] == 3
    jsonschema.validate(report, json.loads(resources.schema("intake-report").read_text()))


def test_a_convention_commented_after_signing_is_complete_and_the_region_is_told_to_read_the_comments(
    intake_ctx, drop, parts, resources
):
    commented = b.comment_added(signed(parts["plain"]), "FreeText")
    report = take_in(drop(deposit_with(parts, commented), form=b.form(parts["entity"])), intake_ctx)
    assert report["status"] == "complete" and report["problems"] == []
    signature = report["signature"]
    assert (signature["status"], signature["modification"]) == ("valid", "annotations")
    assert ANNOTATED in signature["detail"] and f"Signature : {signature['detail']}" in region_body(
        intake_ctx
    )
    jsonschema.validate(report, json.loads(resources.schema("intake-report").read_text()))


@pytest.mark.parametrize("permission", ["FILL_FORMS", "NO_CHANGES"])
def test_a_convention_commented_after_a_certification_that_forbids_it_is_unsigned(
    intake_ctx, drop, parts, permission
):
    commented = b.comment_added(b.certified(parts["plain"], permission), "Highlight")
    report = take_in(drop(deposit_with(parts, commented), form=b.form(parts["entity"])), intake_ctx)
    assert [p["code"] for p in report["problems"]] == ["convention_unsigned"]
    assert MODIFIED in report["problems"][0]["message"] and "annotations" in report["problems"][0]["message"]
    assert (report["signature"]["status"], report["signature"]["modification"]) == ("invalid", "annotations")


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
    "300,000 cross-reference entries after the signature": (
        lambda pdf: b.huge_xref(signed(pdf), 300_000),
        "table des objets démesurée",
    ),
    "300,000 space-padded entries under a small /Size": (
        lambda pdf: b.disguised_xref(signed(pdf), 300_000),
        "table des objets démesurée",
    ),
}


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
