"""Widgets added or changed after a signature: what a person sees that the signature does not cover.

DocMDP, and pyHanko's difference analysis with it, lets form filling through:
new signature fields listed on pages, fields filled in, whatever they draw. A
widget's appearance is drawn over the page, within its /Rect: a new, empty
signature field whose appearance is a white box and other text replaces what
was signed for whoever opens the file, while csac reads the signed text under
it. So each widget on a page that is new, or whose dictionary, appearance,
/MK or parent field changed since the signed revision, is judged:

- it carries an action (/A, /AA) that was not there at signing: active
  content, the signature no longer counts;
- it draws nothing (no appearance, an empty one or marked content only, no
  /MK colour, icon or caption, no value a viewer would draw): nothing to say;
- it draws something over the signed text or images of its page, or over
  more than MAX_SHARE of the page: it can hide or replace what was signed,
  the signature no longer counts. A signature stamp takes a few percent of a
  page (200 x 50 pt is 2 % of A4); a tenth leaves room for a large stamp with
  an image, not for a page of new text;
- anything else (a signature stamp in a blank space, a small field filled
  in) is pointed out: what it shows is not signed.

Flags are not trusted: one bit, which form filling may change, hides or shows
a widget. The page's text, images and crop box are read with pdfium from the
signed revision itself (the bytes the signature covers). Everything is read
within caps; past a cap, or unreadable, the signature does not count.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice

from pyhanko.pdf_utils import generic

from .annotations_rule import page_refs

MAX_SHARE = 0.10  # of the page's area that a widget drawn after signing may take, outside the signed content
MAX_WIDGETS = 100  # widgets added or changed after signing that are judged
MAX_ANNOTATIONS = 5_000  # annotations read, over all pages
MAX_REFS = 200  # objects under one widget (appearance, resources, parent fields) read to see if it changed
MAX_STATES = 16  # appearance states of one widget (a check box has two)
MAX_PARENTS = 32  # parent fields climbed from a widget
MAX_APPEARANCE_BYTES = 16_384  # an appearance stream larger than this is taken to draw, unread
MAX_GLYPHS = 20_000  # characters read on one page; past it, any widget drawn on it is taken to cover text
MAX_IMAGES = 1_000  # image objects read on one page
PAINTING = frozenset({b"S", b"s", b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*", b"sh", b"Do"})
PAINTING |= {b"Tj", b"TJ", b"'", b'"', b"INLINE IMAGE"}
MK_DRAWS = ("/BG", "/BC", "/CA", "/RC", "/AC", "/I", "/RI", "/IX")  # colours, captions, icons

SUBJECTS = {  # what the widget is, as a person reads it
    "signature": "le tampon d'une signature ajoutée ensuite",
    "signature_field": "un champ de signature ajouté après la signature",
    "field": "un champ de formulaire ajouté après la signature",
    "changed": "un champ de formulaire rempli ou modifié après la signature",
}
REASONS = {
    "acts": "{subject} porte une action (JavaScript, lien ou commande)",
    "text": "{subject} recouvre le texte signé (page {page})",
    "image": "{subject} recouvre une image signée (page {page})",
    "large": "{subject} occupe {share} % de la page {page} (un tampon en occupe au plus {cap} %)",
}
NOTE = "{subject} (page {page})"


class _Unreadable(Exception):
    """Past a cap, or a structure too broken to judge."""


@dataclass(frozen=True)
class Widget:
    """A widget on a page, added or changed after the signed revision."""

    page: int  # from 0
    subject: str  # a key of SUBJECTS
    rect: tuple[float, float, float, float] | None  # left, bottom, right, top; None: never drawn
    draws: bool
    acts: bool


@dataclass(frozen=True)
class Judgement:
    refusal: str = ""  # why the signature no longer covers what a person sees; "" when it still does
    notes: tuple[str, ...] = ()  # what to point out
    unchecked: bool = False  # past a cap, or unreadable: whether the signature still covers it is unknown


def judge(reader, signed_revision: int, signed_pdf: bytes) -> Judgement:
    """The widgets added or changed after `signed_revision`, against the signed revision's pages."""
    try:
        widgets = _late_widgets(reader, signed_revision)
        if not widgets:
            return Judgement()
        with _SignedPages(signed_pdf) as pages:
            verdicts = [_verdict(widget, pages) for widget in widgets]
    except Exception:  # _Unreadable, or what pyHanko let through but pdfium or this module cannot read
        return Judgement(unchecked=True)
    refusals = [refusal for refusal, _ in verdicts if refusal]
    notes = dict.fromkeys(note for _, note in verdicts if note)  # in order, once each
    return Judgement(refusals[0]) if refusals else Judgement(notes=tuple(notes))


def _verdict(widget: Widget, pages: _SignedPages) -> tuple[str, str]:
    """(why the signature no longer counts, or ""; what to point out, or "")."""
    page, subject = widget.page + 1, SUBJECTS[widget.subject]
    if widget.acts:
        return REASONS["acts"].format(subject=subject), ""
    if not widget.draws or widget.rect is None:
        return "", ""
    share, covered = pages.content_under(widget.page, widget.rect)
    if share <= 0:
        return "", ""  # drawn outside the page
    if covered:
        return REASONS[covered].format(subject=subject, page=page), ""
    if share > MAX_SHARE:
        percent, cap = round(share * 100), round(MAX_SHARE * 100)
        return REASONS["large"].format(subject=subject, share=percent, page=page, cap=cap), ""
    return "", NOTE.format(subject=subject, page=page)


# -- Which widgets changed since the signed revision (pyHanko's reader) ---------------------------


def _late_widgets(reader, signed_revision: int) -> list[Widget]:
    old = reader.get_historical_resolver(signed_revision)
    new = reader.get_historical_resolver(reader.xrefs.total_revisions - 1)
    pages = page_refs(new)
    if pages is None:
        raise _Unreadable("page tree")
    redrawn = _appearances_regenerated(old, new)
    widgets, read = [], 0
    for index, page_ref in enumerate(pages):
        annots = _get(new(page_ref), "/Annots")
        annots = list(islice(annots, MAX_ANNOTATIONS - read + 1)) if isinstance(annots, list) else []
        read += len(annots)
        if read > MAX_ANNOTATIONS:
            raise _Unreadable("annotations")
        for entry in annots:
            widget = _widget(old, new, index, entry, redrawn, signed_revision)
            if widget is not None:
                widgets.append(widget)
        if len(widgets) > MAX_WIDGETS:
            raise _Unreadable("widgets")
    return widgets


def _widget(old, new, index: int, entry, redrawn: bool, signed_revision: int) -> Widget | None:
    """The annotation `entry` of a page, if it belongs to the form and is new or changed since signing.

    It belongs to the form if it is a /Widget, or if it or a parent is a field (/FT, /Kids), whatever
    its subtype: pyHanko binds a new signature field to pages without looking at it.
    """
    if not isinstance(entry, generic.IndirectObject):
        return None  # a direct annotation cannot have been added alone: its page would have changed
    annot = entry.get_object()
    if not isinstance(annot, generic.DictionaryObject):
        return None
    chain = _field_chain(entry)
    if _get(annot, "/Subtype") != "/Widget" and not any("/FT" in d or "/Kids" in d for _, d in chain):
        return None  # a comment: pyHanko's analysis and annotations_rule point it out
    field_type = next((_get(d, "/FT") for _, d in chain if "/FT" in d), None)
    value = next((d.raw_get("/V") for _, d in chain if "/V" in d), None)
    changed = _changed_since(new, [ref for ref, _ in chain], signed_revision)
    if not (changed or (redrawn and field_type != "/Sig" and value is not None)):
        return None
    added = old.is_ref_unassignable(entry.reference)
    if field_type == "/Sig":
        signed_since = isinstance(value, generic.IndirectObject) and old.is_ref_unassignable(value.reference)
        subject = "signature" if signed_since else "signature_field" if added else "changed"
    else:
        subject = "field" if added else "changed"
    draws = _draws(annot) or (field_type != "/Sig" and _has_value(value))
    return Widget(index, subject, _rect(annot), draws, _acts(old, chain))


def _field_chain(entry: generic.IndirectObject) -> list[tuple[generic.Reference, generic.DictionaryObject]]:
    """The widget, then the fields it belongs to (/Parent), nearest first."""
    chain, seen, node = [], set(), entry
    while (
        isinstance(node, generic.IndirectObject) and node.reference not in seen and len(chain) < MAX_PARENTS
    ):
        obj = node.get_object()
        if not isinstance(obj, generic.DictionaryObject):
            break
        seen.add(node.reference)
        chain.append((node.reference, obj))
        node = obj.raw_get("/Parent") if "/Parent" in obj else None
    return chain


def _changed_since(new, roots: list[generic.Reference], signed_revision: int) -> bool:
    """Whether an object under these (not their page, parent or kids) was written after signing."""
    xrefs, seen, stack = new.reader.xrefs, set(), list(roots)
    while stack:
        ref = stack.pop()
        if ref in seen:
            continue
        if len(seen) >= MAX_REFS:
            return True  # too much to read: judged as changed
        seen.add(ref)
        try:
            if xrefs.get_last_change(ref) > signed_revision:
                return True
        except KeyError:  # a reference to nothing: null
            continue
        stack.extend(_references(new(ref), skip=("/P", "/Parent", "/Kids")))
    return False


def _references(obj, skip: tuple[str, ...]) -> list[generic.Reference]:
    """The indirect references directly inside an object (a stream: in its dictionary)."""
    found, pending = [], [obj]
    while pending and len(found) <= MAX_REFS:
        item = pending.pop()
        if isinstance(item, generic.IndirectObject):
            found.append(item.reference)
        elif isinstance(item, generic.DictionaryObject):
            pending.extend(item.raw_get(k) for k in item if k not in skip)
        elif isinstance(item, generic.ArrayObject):
            pending.extend(islice(item, MAX_REFS))
    return found


def _appearances_regenerated(old, new) -> bool:
    """/NeedAppearances turned on after signing: viewers redraw every field from its value."""

    def needed(resolver) -> bool:
        form = _get(resolver.root, "/AcroForm")
        flag = _get(form, "/NeedAppearances") if isinstance(form, generic.DictionaryObject) else None
        return isinstance(flag, generic.BooleanObject) and bool(flag.value)

    return needed(new) and not needed(old)


def _acts(old, chain) -> bool:
    """An action on the widget or its fields that was not there at signing."""
    for ref, obj in chain:
        before = None if old.is_ref_unassignable(ref) else old(ref)
        for key in ("/A", "/AA"):
            if key not in obj:
                continue
            if not isinstance(before, generic.DictionaryObject) or key not in before:
                return True
            now, then = obj.raw_get(key), before.raw_get(key)
            if now != then or _rewritten(old, now):
                return True
    return False


def _rewritten(old, value) -> bool:
    return (
        isinstance(value, generic.IndirectObject)
        and old.reader.xrefs.get_last_change(value.reference) > old.revision
    )


def _has_value(value) -> bool:
    """A field value a viewer would draw: text, a choice, a state other than Off."""
    value = value.get_object() if isinstance(value, generic.IndirectObject) else value
    return value not in (None, "", "/Off") and not (isinstance(value, list) and not value)


def _get(obj: generic.DictionaryObject, key: str):
    """A dictionary's value, resolved (a dict's own get() leaves references unresolved); None if absent."""
    return obj[key] if key in obj else None  # noqa: SIM401


def _rect(annot: generic.DictionaryObject) -> tuple[float, float, float, float] | None:
    try:
        x1, y1, x2, y2 = (float(v) for v in annot["/Rect"])
    except Exception:  # no rectangle: never drawn
        return None
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


# -- What a widget draws ---------------------------------------------------------------------------


def _draws(annot: generic.DictionaryObject) -> bool:
    """Whether the widget's appearances (any state), or its /MK, draw anything."""
    mk = _get(annot, "/MK")
    if isinstance(mk, generic.DictionaryObject) and any(_get(mk, key) for key in MK_DRAWS):
        return True
    appearance = _get(annot, "/AP")
    if not isinstance(appearance, generic.DictionaryObject):
        return False
    for key in ("/N", "/R", "/D"):
        entry = _get(appearance, key)
        if isinstance(entry, generic.StreamObject):
            states = [entry]
        elif isinstance(entry, generic.DictionaryObject):
            states = [_get(entry, state) for state in islice(entry, MAX_STATES + 1)]
        else:
            states = []
        if len(states) > MAX_STATES or any(_stream_draws(state) for state in states):
            return True
    return False


def _stream_draws(stream) -> bool:
    """Whether a content stream paints: a path filled or stroked, text, an image, a shading, an XObject.

    Anything too large or unreadable is taken to draw.
    """
    from pypdf.generic import ContentStream, DecodedStreamObject

    if not isinstance(stream, generic.StreamObject):
        return False
    try:
        if len(stream.encoded_data) > MAX_APPEARANCE_BYTES:
            return True
        data = stream.read_data(expected_size=MAX_APPEARANCE_BYTES)  # pyHanko's bounded decoding
        content = DecodedStreamObject()
        content.set_data(data)
        return any(operator in PAINTING for _, operator in ContentStream(content, None).operations)
    except Exception:  # pypdf's parse errors, pyHanko's decoding limits
        return True


# -- The signed revision's pages (pdfium) ----------------------------------------------------------


class _SignedPages:
    """The signed revision opened with pdfium on first use; its pages' crop box, glyphs and images."""

    def __init__(self, signed_pdf: bytes):
        self._data, self._document, self._pages = signed_pdf, None, {}

    def __enter__(self) -> _SignedPages:
        return self

    def __exit__(self, *exc) -> None:
        if self._document is not None:
            self._document.close()

    def content_under(self, index: int, rect) -> tuple[float, str]:
        """(the share of the page the rectangle shows on, 0 to 1; "text", "image" or "" under it)."""
        (left, bottom, right, top), glyphs, images = self._page(index)
        shown = (max(rect[0], left), max(rect[1], bottom), min(rect[2], right), min(rect[3], top))
        width, height = shown[2] - shown[0], shown[3] - shown[1]
        page_area = (right - left) * (top - bottom)
        if width <= 0 or height <= 0 or page_area <= 0:
            return 0.0, ""
        if glyphs is None or _any_inside(glyphs, shown):
            return width * height / page_area, "text"
        if any(_overlap(shown, box) for box in images):
            return width * height / page_area, "image"
        return width * height / page_area, ""

    def _page(self, index: int):
        """A page's crop box, the middle of each glyph's box (None: too many), its images' boxes."""
        import pypdfium2 as pdfium
        import pypdfium2.raw as pdfium_c

        if index not in self._pages:
            if self._document is None:
                self._document = pdfium.PdfDocument(self._data)
            page = self._document[index]
            images = page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=1)
            images = [image.get_bounds() for image in islice(images, MAX_IMAGES)]
            self._pages[index] = page.get_cropbox(), _glyph_middles(page.get_textpage()), images
        return self._pages[index]


def _glyph_middles(textpage) -> list[tuple[float, float]] | None:
    """Where each visible character's box has its middle: a widget over it hides the glyph.

    A widget that only grazes a glyph's box leaves it readable. None past MAX_GLYPHS.
    """
    import pypdfium2.raw as pdfium_c

    count = textpage.count_chars()
    if count > MAX_GLYPHS:
        return None
    middles = []
    for index in range(count):
        if chr(pdfium_c.FPDFText_GetUnicode(textpage, index) or 32).isspace():
            continue
        left, bottom, right, top = textpage.get_charbox(index)
        middles.append(((left + right) / 2, (bottom + top) / 2))
    return middles


def _any_inside(points, rect) -> bool:
    """One plain loop: a page's thousands of glyphs cost no Python call each (see CALL_BUDGET)."""
    left, bottom, right, top = rect
    for x, y in points:  # noqa: SIM110 (a generator would be one profiled call per glyph)
        if left < x < right and bottom < y < top:
            return True
    return False


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
