"""The aiosmtpd server speaks real SMTP with STARTTLS, implicit TLS and AUTH."""

from __future__ import annotations

import smtplib
import ssl

import pytest

from openprotocols.testing.servers import SMTPServer, TestCA

MESSAGE = b"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: hi\r\n\r\nHello Bob.\r\n"


def test_starttls_login_and_send(smtp_server: SMTPServer, test_ca: TestCA) -> None:
    """STARTTLS (test CA), AUTH and a sent message are recorded with envelope, data and login."""
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
        client.starttls(context=test_ca.client_context())
        client.login("alice", "secret")
        refused = client.sendmail("alice@example.test", ["bob@example.test"], MESSAGE)
    assert refused == {}
    [message] = smtp_server.messages
    assert message.mail_from == "alice@example.test"
    assert message.rcpt_tos == ("bob@example.test",)
    assert message.data == MESSAGE
    assert message.login == "alice"
    assert message.tls is True
    assert smtp_server.auth_attempts[-1].success


def test_mail_before_starttls_is_refused(smtp_server: SMTPServer) -> None:
    """MAIL before STARTTLS gets 530, AUTH is not offered, and nothing is recorded."""
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        assert not client.has_extn("auth")
        code, _ = client.mail("alice@example.test")
    assert code == 530
    assert smtp_server.messages == []


def test_wrong_password_is_refused(smtp_server: SMTPServer, test_ca: TestCA) -> None:
    """A wrong password gets 535 and every AUTH attempt is recorded as failed."""
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
        client.starttls(context=test_ca.client_context())
        with pytest.raises(smtplib.SMTPAuthenticationError) as raised:
            client.login("alice", "wrong")
    assert raised.value.smtp_code == 535
    attempts = smtp_server.auth_attempts
    assert attempts  # smtplib tries each mechanism (PLAIN, then LOGIN)
    assert {(a.login, a.success) for a in attempts} == {("alice", False)}


def test_mail_without_auth_is_refused(smtp_server: SMTPServer, test_ca: TestCA) -> None:
    """After STARTTLS but without AUTH, MAIL gets 530 (auth_required)."""
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
        client.starttls(context=test_ca.client_context())
        client.ehlo()
        assert client.has_extn("auth")
        code, _ = client.mail("alice@example.test")
    assert code == 530


def test_tls_is_real(smtp_server: SMTPServer) -> None:
    """Default trust (system CAs) rejects the server's certificate during STARTTLS."""
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
        with pytest.raises(ssl.SSLCertVerificationError):
            client.starttls(context=ssl.create_default_context())
        client.close()


def test_implicit_tls(test_ca: TestCA) -> None:
    """In implicit-TLS mode SMTP_SSL with the test CA can log in (AUTH LOGIN) and send."""
    with SMTPServer(security="tls", ca=test_ca, users={"carol": "pw"}) as server:
        assert server.url.startswith("smtps://")
        with smtplib.SMTP_SSL(
            server.host, server.port, context=test_ca.client_context(), timeout=10
        ) as client:
            client.ehlo()
            assert not client.has_extn("starttls")
            client.user, client.password = "carol", "pw"
            code, _ = client.auth("LOGIN", client.auth_login, initial_response_ok=False)
            assert code == 235
            client.sendmail(
                "carol@example.test", ["dave@example.test", "eve@example.test"], MESSAGE
            )
        with pytest.raises(ssl.SSLCertVerificationError):
            smtplib.SMTP_SSL(
                server.host, server.port, context=ssl.create_default_context(), timeout=10
            )
    [message] = server.messages
    assert message.rcpt_tos == ("dave@example.test", "eve@example.test")
    assert (message.login, message.tls) == ("carol", True)
    assert [(a.mechanism, a.success) for a in server.auth_attempts] == [("LOGIN", True)]


def test_plain_mode_without_auth() -> None:
    """security="plain" with auth_required=False accepts mail without TLS or AUTH."""
    with (
        SMTPServer(security="plain", auth_required=False) as server,
        smtplib.SMTP(server.host, server.port, timeout=10) as client,
    ):
        client.ehlo()
        assert not client.has_extn("starttls")
        client.sendmail("a@example.test", ["b@example.test"], MESSAGE)
    [message] = server.messages
    assert (message.login, message.tls) == (None, False)
