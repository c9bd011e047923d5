"""Comments added after a signature: the DocMDP level that pyHanko's default policy leaves out.

A sticky note or a highlight added after signing does not change what was
signed, and ISO 32000 lets an approval signature, or a certification whose
DocMDP is P=3, accept it. pyHanko's default difference policy treats every
annotation as an unsafe change (a documented known issue), so this rule
whitelists, at pyHanko's ANNOTATIONS level, exactly:

- new comment annotations added to a page's /Annots, and the new objects
  under them (appearance streams, popups);
- that page, or its /Annots array, when adding them is its only change
  (an inherited attribute copied onto a page, as pypdf writes it, is none).

pyHanko then weighs the level against the signature's DocMDP itself. What is
left unexplained (content streams, resources, the page tree, annotations
present at signing changed, dropped or reordered, links, widgets, media,
attachments, anything carrying an action) still voids the signature.

pyHanko's own check of new signature widgets on pages refuses any other
annotation added since the signature, so a comment followed by a document
timestamp would void the signature: this rule binds those widgets instead,
at pyHanko's LTA_UPDATES level. The rule never raises: it approves or stays
silent, and reads only the page tree, the form's fields and what hangs from
new annotations, within caps.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import HistoricalResolver, RawPdfPath
from pyhanko.sign.diff_analysis import (
    DEFAULT_DIFF_POLICY,
    FormUpdatingRule,
    GenericFieldModificationRule,
    ModificationLevel,
    QualifiedWhitelistRule,
    ReferenceUpdate,
    SigFieldCreationRule,
    SigFieldModificationRule,
    StandardDiffPolicy,
)
from pyhanko.sign.diff_analysis.rules_api import RelativeContext

# Markup a reader adds as a comment. Not: Widget (form), Link, Screen, Movie, Sound, RichMedia, 3D
# (they act), FileAttachment (it carries a file), Redact, Watermark, PrinterMark, TrapNet (they alter print).
COMMENTS = frozenset(
    {"/Text", "/Highlight", "/Underline", "/StrikeOut", "/Squiggly", "/Caret", "/Ink", "/Popup", "/FreeText"}
    | {"/Square", "/Circle", "/Line", "/Polygon", "/PolyLine", "/Stamp"}
)
NOT_IN_A_COMMENT = frozenset({"/A", "/AA", "/JS", "/FS", "/EF", "/FT", "/Kids"})  # actions, files, fields
INHERITED = frozenset({"/Resources", "/MediaBox", "/CropBox", "/Rotate"})
MAX_CHANGED = 50_000  # objects one revision may write for this rule to look at it (as many as csac loads)
MAX_PAGE_NODES = 2_000  # page tree nodes read per revision, when an /Annots array is rewritten in place
MAX_FIELDS = 1_000  # form fields read per revision, looking for new signature fields
MAX_ADDED = 500  # annotations added to one page after signing
MAX_OBJECTS = 5_000  # new objects under them
MAX_DEPTH = 32  # page tree levels climbed for an inherited attribute

Approval = tuple[ModificationLevel, generic.Reference, RelativeContext | None]


class PageAnnotationsRule(QualifiedWhitelistRule):
    """Approve comments and new signature widgets added to pages after the signed revision."""

    def apply_qualified(
        self, old: HistoricalResolver, new: HistoricalResolver
    ) -> Iterable[tuple[ModificationLevel, ReferenceUpdate]]:
        changed = new.explicit_refs_in_revision()
        if len(changed) > MAX_CHANGED:
            return
        pages = _changed_pages(old, new, changed)
        widgets = _signature_widgets(old, new) if pages else frozenset()
        approvals = [a for page_ref in pages for a in _page_update(old, new, page_ref, widgets)]
        approvals += _comments_edited(old, new, changed)
        for level, ref, context in approvals:
            yield level, ReferenceUpdate(ref, context_checked=context)


def comment_policy() -> StandardDiffPolicy:
    """pyHanko's default policy (forms, signatures, DSS, metadata), with pages judged by the rule above."""
    return StandardDiffPolicy(
        global_rules=[*DEFAULT_DIFF_POLICY.global_rules, PageAnnotationsRule()],
        form_rule=FormUpdatingRule(
            field_rules=[
                SigFieldCreationRule(approve_widget_bindings=False),  # PageAnnotationsRule binds them
                SigFieldModificationRule(),
                GenericFieldModificationRule(),
            ]
        ),
    )


def _changed_pages(old, new, changed) -> set[generic.Reference]:
    """The pages of the signed revision that this revision rewrites, or whose /Annots array it rewrites."""
    try:
        rewritten = {ref: old(ref) for ref in changed if not old.is_ref_unassignable(ref)}
    except Exception:  # an unreadable object of the signed revision: nothing is approved
        return set()
    pages = {ref for ref, obj in rewritten.items() if _plain_dict(obj) and obj.get("/Type") == "/Page"}
    arrays = {ref for ref, obj in rewritten.items() if isinstance(obj, generic.ArrayObject)}
    if arrays:  # an /Annots array rewritten in place: its page is found through the page tree
        pages |= {ref for ref in page_refs(new) or () if _annots_ref(new(ref)) in arrays}
    return pages


def _annots_ref(page) -> generic.Reference | None:
    raw = page.raw_get("/Annots") if _plain_dict(page) and "/Annots" in page else None
    return raw.reference if isinstance(raw, generic.IndirectObject) else None


def page_refs(resolver: HistoricalResolver) -> list[generic.Reference] | None:
    """The pages of a revision in order, depth first; None past MAX_PAGE_NODES tree nodes, or unreadable."""
    pages: list[generic.Reference] = []
    try:
        stack, seen = [resolver.root.raw_get("/Pages")], set()
        while stack:
            node = stack.pop()
            if not isinstance(node, generic.IndirectObject) or node.reference in seen:
                continue
            if len(seen) >= MAX_PAGE_NODES:
                return None
            seen.add(node.reference)
            obj = node.get_object()
            if not isinstance(obj, generic.DictionaryObject):
                continue
            if obj.get("/Type") == "/Page":
                pages.append(node.reference)
            elif "/Kids" in obj and isinstance(obj["/Kids"], generic.ArrayObject):
                stack.extend(reversed(obj["/Kids"]))
    except Exception:  # a page tree too broken to read approves nothing; pyHanko judges the rest
        return None
    return pages


def _signature_widgets(old: HistoricalResolver, new: HistoricalResolver) -> frozenset[generic.Reference]:
    """Widgets of the signature fields created since the signed revision, as pyHanko's field rules find them.

    pyHanko's SigFieldCreationRule vets the fields themselves; pages may list their widgets.
    """
    try:
        fields = new.root["/AcroForm"]["/Fields"]
        refs = [f.reference for f in islice(fields, MAX_FIELDS) if isinstance(f, generic.IndirectObject)]
    except Exception:  # no form, or none readable
        return frozenset()
    widgets = set()
    for ref in refs:
        field = new(ref)
        if not old.is_ref_unassignable(ref) or not _plain_dict(field) or field.get("/FT") != "/Sig":
            continue
        if "/Kids" not in field:
            widgets.add(ref)
            continue
        kids = field["/Kids"]
        if isinstance(kids, generic.ArrayObject):  # its widgets: kids without a name of their own
            kids = [k.reference for k in islice(kids, MAX_FIELDS) if isinstance(k, generic.IndirectObject)]
            widgets |= {k for k in kids if _plain_dict(new(k)) and "/T" not in new(k)}
    return frozenset(widgets)


def _page_update(old, new, page_ref, widgets) -> list[Approval]:
    """What to approve for one page: nothing, unless comments or signature widgets were only added to /Annots."""
    try:
        return _added_annotations(old, new, page_ref, widgets)
    except Exception:  # a malformed page or annotation is simply not approved
        return []


def _added_annotations(old, new, page_ref, widgets) -> list[Approval]:
    if old.is_ref_unassignable(page_ref):  # a page added after signing
        return []
    old_page, new_page = old(page_ref), new(page_ref)
    if not (_plain_dict(old_page) and _plain_dict(new_page)) or not _same_but_annots(old_page, new_page):
        return []
    (old_list, old_array), (new_list, new_array) = _annots(old_page), _annots(new_page)
    added = _added(old_list, new_list)
    if added is None:
        return []  # an entry dropped, moved or repeated
    if not added:  # the same page, inherited attributes copied onto it (pypdf rewrites every page so)
        return [(ModificationLevel.LTA_UPDATES, page_ref, None)] if new_array == old_array else []
    comments = [ref for ref in added if ref not in widgets]
    objects = _comment_objects(old, new, comments)
    if objects is None:
        return []
    level = ModificationLevel.ANNOTATIONS if comments else ModificationLevel.LTA_UPDATES
    approvals = [(level, page_ref, None)]  # the page differs only by /Annots: approved on every path
    approvals += [(ModificationLevel.ANNOTATIONS, ref, None) for ref in objects]
    if new_array is not None:
        if new_array != old_array and not old.is_ref_unassignable(new_array):
            return []  # /Annots pointed at another object of the signed revision
        approvals.append((level, new_array, RelativeContext(page_ref, RawPdfPath("/Annots"))))
    return approvals


def _added(old_list: list, new_list: list) -> list | None:
    """The entries added to an annotation list that keeps every old entry, once and in order; else None."""
    if len(new_list) - len(old_list) > MAX_ADDED or len(set(new_list)) != len(new_list):
        return None
    remaining = iter(new_list)
    if not all(any(entry == kept for kept in remaining) for entry in old_list):
        return None
    before = set(old_list)
    return [ref for ref in new_list if ref not in before]


def _comments_edited(old, new, changed) -> list[Approval]:
    """Comments added after signing, rewritten by this revision (their text edited): still comments?"""
    xrefs, approvals = new.reader.xrefs, []
    try:
        earlier = [
            r
            for r in changed
            if old.is_ref_unassignable(r) and xrefs.get_introducing_revision(r) < new.revision
        ]
        for ref in earlier:
            objects = _comment_objects(old, new, [ref]) if _is_comment(new(ref)) else None
            approvals += [(ModificationLevel.ANNOTATIONS, r, None) for r in objects or ()]
    except Exception:  # unreadable: not approved
        return []
    return approvals


def _plain_dict(obj) -> bool:
    return isinstance(obj, generic.DictionaryObject) and not isinstance(obj, generic.StreamObject)


def _same_but_annots(old_page: generic.DictionaryObject, new_page: generic.DictionaryObject) -> bool:
    """Nothing changed but /Annots; an inherited attribute copied onto the page (pypdf does) changes nothing."""
    keys = set(old_page) - {"/Annots"}
    copied = set(new_page) - keys - {"/Annots"}
    return (
        keys <= set(new_page)
        and all(old_page.raw_get(k) == new_page.raw_get(k) for k in keys)
        and all(k in INHERITED and new_page[k] == _inherited(old_page, k) for k in copied)
    )


def _inherited(page: generic.DictionaryObject, key: str) -> generic.PdfObject | None:
    """The value a page takes from its ancestors in the page tree."""
    node = page
    for _ in range(MAX_DEPTH):
        parent = node.raw_get("/Parent") if "/Parent" in node else None
        if not isinstance(parent, generic.IndirectObject):
            return None
        node = parent.get_object()
        if not isinstance(node, generic.DictionaryObject):
            return None
        if key in node:
            return node[key]
    return None


def _annots(page: generic.DictionaryObject) -> tuple[list[generic.Reference], generic.Reference | None]:
    """The page's annotation references in order, and the /Annots array's own reference if indirect."""
    if "/Annots" not in page:
        return [], None
    raw = page.raw_get("/Annots")
    array = raw.get_object()
    if not isinstance(array, generic.ArrayObject) or not all(
        isinstance(a, generic.IndirectObject) for a in array
    ):
        raise ValueError("/Annots")
    return [a.reference for a in array], raw.reference if isinstance(raw, generic.IndirectObject) else None


def _comment_objects(old, new, added: list[generic.Reference]) -> set[generic.Reference] | None:
    """The new objects that make up the added comments, or None if one of them is no comment."""
    objects: set[generic.Reference] = set()
    since = old.revision + 1
    for ref in added:
        if not old.is_ref_unassignable(ref) or not _is_comment(new(ref)):
            return None  # an annotation of the signed revision moved here, or no comment
        reference = generic.IndirectObject(ref.idnum, ref.generation, new)
        objects |= new.collect_dependencies(reference, since_revision=since)
        if len(objects) > MAX_OBJECTS:
            return None
    objects = {ref for ref in objects if old.is_ref_unassignable(ref)}
    return objects if all(_harmless(new(ref)) for ref in objects) else None


def _is_comment(obj) -> bool:
    return (
        _plain_dict(obj)
        and obj.get("/Type", "/Annot") == "/Annot"
        and obj.get("/Subtype") in COMMENTS
        and not NOT_IN_A_COMMENT & set(obj)
    )


def _harmless(obj) -> bool:
    """An object under a comment: an appearance, a font, a popup; no action, file, or other annotation."""
    if not isinstance(obj, generic.DictionaryObject):
        return True
    if "/Rect" in obj or obj.get("/Type") == "/Annot":
        return _is_comment(obj)
    return not NOT_IN_A_COMMENT & set(obj)
