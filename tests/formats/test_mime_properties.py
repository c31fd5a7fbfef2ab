"""Property tests: whatever Unicode a user types survives build() and parse()."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from openprotocols.formats import mime
from openprotocols.model import Address, Attachment

# Header text: any Unicode except control characters and surrogates (which no header
# can carry); leading/trailing and repeated white space is not significant in headers.
header_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=60
).map(lambda s: " ".join(s.split()))
local_part = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,20}", fullmatch=True).filter(
    lambda s: ".." not in s and not s.endswith(".")
)
domain = st.from_regex(r"[a-z0-9]{1,12}(\.[a-z0-9]{1,12}){0,2}\.[a-z]{2,6}", fullmatch=True)
addresses = st.builds(
    Address,
    st.builds(lambda local, host: f"{local}@{host}", local_part, domain),
    st.none() | header_text.filter(bool),
)


@settings(max_examples=200, deadline=None)
@given(
    author=addresses,
    to=st.lists(addresses, min_size=1, max_size=4),
    cc=st.lists(addresses, max_size=3),
    bcc=st.lists(addresses, max_size=3),
    subject=header_text,
)
def test_names_and_subjects_survive_build_and_parse(
    author: Address, to: list[Address], cc: list[Address], bcc: list[Address], subject: str
) -> None:
    """Any Unicode display names and subjects read back exactly after build()."""
    message = mime.build(from_=author, to=to, cc=cc, bcc=bcc, subject=subject, text="x")
    assert message.content is not None
    assert message.content.isascii()
    reparsed = mime.parse(message.content).envelope
    assert reparsed.from_ == (author,)
    assert reparsed.to == tuple(to)
    assert reparsed.cc == tuple(cc)
    assert reparsed.subject == subject
    sent = mime.for_sent_folder(message)
    assert sent.content is not None
    assert mime.parse(sent.content).envelope.bcc == tuple(bcc)


@settings(max_examples=100, deadline=None)
@given(
    text=st.text(st.characters(blacklist_categories=("Cs",))),
    html=st.none() | st.text(st.characters(blacklist_categories=("Cs",))),
    filename=header_text.filter(bool),
    data=st.binary(max_size=500),
)
def test_bodies_and_attachments_survive(
    text: str, html: str | None, filename: str, data: bytes
) -> None:
    """Body text (line ends normalised) and attachment names and bytes read back."""
    message = mime.build(
        from_=Address("ann@example.org"),
        text=text,
        html=html,
        attachments=[Attachment(filename=filename, data=data)],
        date=datetime(2024, 1, 1, tzinfo=UTC),
    )
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    body = mime.text_body(message)
    assert body is not None
    assert body.rstrip("\n") == expected.rstrip("\n")
    (attachment,) = mime.iter_attachments(message)
    assert attachment.filename == filename
    assert attachment.data == data
