"""Convention variants: YAML files checked against the variant schema on load.

A variant holds the legal text to the letter; nothing in code repeats it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from .errors import ConfigError, UnknownVariantError
from .markets import Market, market_of
from .money import euros
from .reading import YAMLError, load_yaml, unreadable
from .resources import Resources
from .schemas import check
from .tariff import Tariff, tariff_from_data


@dataclass(frozen=True)
class Block:
    kind: str  # p, li, h2 or tariff
    text: str = ""


@dataclass(frozen=True)
class Article:
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Variant:
    id: str
    framework_agreement: str
    lot: int | None
    summary: str
    footer_label: str
    modes: tuple[str, ...]
    tariff: Tariff
    supplementary_contribution: Decimal | None
    articles: tuple[Article, ...]
    text: dict  # the remaining legal text (title, parties, recitals, signature…)
    source: Path

    @property
    def market(self) -> Market:
        """(procedure, lot): 2021-047-001 is lot 1 of procedure 2021-047, as the Resah numbers them."""
        return market_of(self.framework_agreement, self.lot)

    @property
    def label(self) -> str:
        lot = f" lot {self.lot}" if self.lot else ""
        return f"Accord-cadre {self.framework_agreement}{lot}"

    def as_json(self) -> dict:
        """What `csac variants --json` prints for scripts: the tariff as printed, amounts as text."""
        extra = self.supplementary_contribution
        return {
            "id": self.id,
            "framework_agreement": self.framework_agreement,
            "lot": self.lot,
            "summary": self.summary,
            "modes": list(self.modes),
            "tariff": [
                {"label": r.label, "typology": r.typology, "amount": r.amount_text} for r in self.tariff.rows
            ],
            "supplementary_contribution": str(extra) if extra else None,
        }


def _articles(data: list[dict]) -> tuple[Article, ...]:
    def block(b: dict) -> Block:
        ((kind, value),) = b.items()
        return Block(kind, "" if value is True else value)

    return tuple(Article(a["title"], tuple(map(block, a["blocks"]))) for a in data)


def load_variant(path: Path, schema: Path) -> Variant:
    """Parse and validate one variant file; errors name the file and the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path} : {unreadable(exc)}") from exc
    return _variant(path, text, schema)


@lru_cache(maxsize=16)
def _variant(path: Path, text: str, schema: Path) -> Variant:
    """Parsed and checked once per text of the file (30 ms for the four): the children of a resident
    csac (pipeline/resident.py) find the variants its server read, and a file that changed is read again."""
    try:
        data = load_yaml(text)
    except YAMLError as exc:
        raise ConfigError(f"{path} : {unreadable(exc)}") from exc
    problems = check(schema, data)
    if problems:
        raise ConfigError(f"{path} : variante invalide\n" + "\n".join(f"  - {p}" for p in problems))
    if data["id"] != path.stem:
        raise ConfigError(f"{path} : id : {data['id']!r} ne correspond pas au nom du fichier")
    extra = data["supplementary_contribution"]
    text_keys = ("title", "object", "subtitles", "parties", "recitals", "agreed", "signature")
    return Variant(
        id=data["id"],
        framework_agreement=data["framework_agreement"],
        lot=data["lot"],
        summary=data["summary"],
        footer_label=data["footer_label"],
        modes=tuple(data["modes"]),
        tariff=tariff_from_data(data["tariff"]),
        supplementary_contribution=euros(extra) if extra is not None else None,
        articles=_articles(data["articles"]),
        text={k: data[k] for k in text_keys} | {"footnotes": data["footnotes"]},
        source=path,
    )


def load_variants(resources: Resources) -> dict[str, Variant]:
    schema = resources.schema("variant")
    paths = sorted(resources.variants_dir.glob("*.yaml"))
    if not paths:
        raise ConfigError(f"{resources.variants_dir} : aucune variante trouvée")
    return {v.id: v for v in (load_variant(p, schema) for p in paths)}


def select(variants: dict[str, Variant], ids: list[str] | None) -> list[Variant]:
    """The requested variants in the order asked, all of them when none is named."""
    if not ids:
        return list(variants.values())
    unknown = [i for i in ids if i not in variants]
    if unknown:
        known = ", ".join(variants)
        raise UnknownVariantError(
            f"variante(s) inconnue(s) : {', '.join(unknown)} — variantes connues : {known}"
        )
    return [variants[i] for i in ids]
