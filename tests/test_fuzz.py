"""Fuzzing: real deposits, mutated; every input must end as a verdict, never an exception."""

import io
import zipfile
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.intake import Deposit, assess
from pipeline.problems import CODES
from tests import builders as b


@pytest.fixture(scope="module")
def seeds(renderer, resources):
    entity = b.Entity()
    docs = b.rendered(renderer, resources, entity, "2021-045-lot2")
    members = [("Convention signée.pdf", b.convention_pdf(docs["convention"])), ("Annexe.xlsx", docs["annex"]),
               ("EJ.pdf", b.order_pdf(entity, Decimal("1000"))), ("Convention.docx", docs["convention"])]  # fmt: skip
    return [b.zip_of(members), b.explorer_zip(members), b.zip_of([("lot.zip", b.zip_of(members))])], members


def flip(data: bytes, positions: list[int], values: list[int]) -> bytes:
    out = bytearray(data)
    for pos, value in zip(positions, values, strict=False):
        out[pos % len(out)] ^= value or 1
    return bytes(out)


mutations = st.one_of(
    st.tuples(
        st.just("flip"),
        st.lists(st.integers(0, 10**7), min_size=1, max_size=40),
        st.lists(st.integers(1, 255), min_size=40, max_size=40),
    ),
    st.tuples(st.just("truncate"), st.floats(0.0, 1.0)),
    st.tuples(st.just("swap"), st.permutations(range(4))),
    st.tuples(st.just("duplicate"), st.integers(0, 3)),
    st.tuples(
        st.just("corrupt-member"), st.integers(0, 3), st.lists(st.integers(0, 10**6), min_size=1, max_size=20)
    ),
)


def mutate(seeds, choice: int, mutation) -> bytes:
    zips, members = seeds
    data = zips[choice % len(zips)]
    kind = mutation[0]
    if kind == "flip":
        return flip(data, mutation[1], mutation[2])
    if kind == "truncate":
        return data[: int(len(data) * mutation[1])]
    if kind == "swap":  # names and contents no longer match
        names = [n for n, _ in members]
        return b.zip_of([(names[i], members[j][1]) for i, j in enumerate(mutation[1])])
    if kind == "duplicate":  # two members with the same name, as zipfile would warn about
        return b.raw_zip([b.Raw(n.encode(), d) for n, d in [*members, members[mutation[1]]]])
    index = mutation[1]
    broken = flip(members[index][1], mutation[2], [0xFF] * len(mutation[2]))
    return b.zip_of([(n, broken if i == index else d) for i, (n, d) in enumerate(members)])


@pytest.mark.slow
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(choice=st.integers(0, 2), mutation=mutations)
def test_no_mutated_deposit_escapes_a_verdict(intake_ctx, seeds, choice, mutation):
    data = mutate(seeds, choice, mutation)
    result = assess(Deposit("fuzz.zip", data, None), intake_ctx)
    assert result.status in ("complete", "incomplete", "rejected")
    assert all(f.code in CODES and f.message for f in result.findings)


def test_the_seeds_are_real_deposits(intake_ctx, seeds):
    zips, _ = seeds
    with zipfile.ZipFile(io.BytesIO(zips[0])) as zf:
        assert len(zf.namelist()) == 4
    assert assess(Deposit("seed.zip", zips[0], None), intake_ctx).status == "complete"
