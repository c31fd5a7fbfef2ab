"""The in-process HTTPS server serves routes over real TLS and records every request."""

from __future__ import annotations

import http.client
import json
import ssl

import niquests
import pytest

from openprotocols.testing.servers import HTTPSServer, Request, Response, TestCA

AUTODISCOVER_REQUEST = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/'
    b'requestschema/2006"><Request><EMailAddress>alice@example.test</EMailAddress>'
    b"</Request></Autodiscover>"
)


def connect(server: HTTPSServer, context: ssl.SSLContext | None) -> http.client.HTTPConnection:
    """Return an http.client connection to ``server`` (TLS with ``context`` if given)."""
    if context is None:
        return http.client.HTTPConnection(server.host, server.port, timeout=10)
    return http.client.HTTPSConnection(server.host, server.port, context=context, timeout=10)


def test_get_with_the_test_ca(https_server: HTTPSServer, test_ca: TestCA) -> None:
    """A GET trusting the test CA gets the routed response, and the request is recorded."""
    https_server.route("GET", "/hello", Response.text("hi there"))
    conn = connect(https_server, test_ca.client_context())
    conn.request("GET", "/hello?x=1", headers={"X-Test": "yes"})
    response = conn.getresponse()
    assert (response.status, response.read()) == (200, b"hi there")
    conn.close()
    [request] = https_server.requests
    assert (request.method, request.path, request.query, request.target) == (
        "GET",
        "/hello",
        "x=1",
        "/hello?x=1",
    )
    assert request.header("x-test") == "yes"
    assert request.tls is True


def test_default_trust_rejects_the_certificate(https_server: HTTPSServer) -> None:
    """A client with default trust fails the handshake (the TLS is real); nothing is served."""
    conn = connect(https_server, ssl.create_default_context())
    with pytest.raises(ssl.SSLCertVerificationError):
        conn.request("GET", "/")
    conn.close()
    assert https_server.requests == []


def test_unknown_path_is_404(https_server: HTTPSServer, test_ca: TestCA) -> None:
    """Without a matching route the answer is 404."""
    with niquests.Session() as session:
        response = session.get(https_server.url_for("/nothing"), verify=str(test_ca.ca_pem))
    assert response.status_code == 404


def test_post_body_is_recorded(https_server: HTTPSServer, test_ca: TestCA) -> None:
    """An Autodiscover-style POST of XML gets the XML response and its body is recorded."""
    https_server.route(
        "POST", "/autodiscover/autodiscover.xml", Response.xml("<Autodiscover>ok</Autodiscover>")
    )
    with niquests.Session() as session:
        response = session.post(
            https_server.url_for("/autodiscover/autodiscover.xml"),
            data=AUTODISCOVER_REQUEST,
            headers={"Content-Type": "text/xml"},
            auth=("alice@example.test", "secret"),
            verify=str(test_ca.ca_pem),
        )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert response.text == "<Autodiscover>ok</Autodiscover>"
    [request] = https_server.requests
    assert request.body == AUTODISCOVER_REQUEST
    assert (request.header("Authorization") or "").startswith("Basic ")


def test_chunked_body_is_recorded(https_server: HTTPSServer, test_ca: TestCA) -> None:
    """A request body sent with chunked transfer encoding is reassembled."""
    https_server.route("PUT", "/upload", Response(204))
    conn = connect(https_server, test_ca.client_context())
    conn.request("PUT", "/upload", body=iter([b"first,", b"second"]), encode_chunked=True)
    response = conn.getresponse()
    assert (response.status, response.read()) == (204, b"")
    conn.close()
    assert https_server.requests[0].body == b"first,second"


def test_redirect_head_and_propfind(https_server: HTTPSServer, test_ca: TestCA) -> None:
    """Redirects carry Location, HEAD gets headers but no body, and PROPFIND is served too."""
    https_server.route("GET", "/.well-known/caldav", Response.redirect("/dav/", 301))
    https_server.route("*", "/dav/", Response(207, {"Content-Type": "text/xml"}, b"<multistatus/>"))
    conn = connect(https_server, test_ca.client_context())
    for method, status, body in [
        ("GET", 301, b""),
        ("HEAD", 207, b""),
        ("PROPFIND", 207, b"<multistatus/>"),
    ]:
        path = "/.well-known/caldav" if method == "GET" else "/dav/"
        conn.request(method, path, headers={"Depth": "0"})
        response = conn.getresponse()
        assert (response.status, response.read()) == (status, body)
        if method == "GET":
            assert response.getheader("Location") == "/dav/"
        if method == "HEAD":
            assert response.getheader("Content-Length") == str(len(b"<multistatus/>"))
    conn.close()
    assert [r.method for r in https_server.requests] == ["GET", "HEAD", "PROPFIND"]


def test_callable_routes_and_changes_while_running(
    https_server: HTTPSServer, test_ca: TestCA
) -> None:
    """Routes may be functions of the request, and can be replaced or removed while serving."""

    def echo(request: Request) -> Response:
        return Response(
            200,
            {"Content-Type": "application/json"},
            json.dumps({"method": request.method, "body": request.text}),
        )

    https_server.route("POST", "/echo", echo)
    with niquests.Session() as session:
        first = session.post(
            https_server.url_for("/echo"), data=b"ping", verify=str(test_ca.ca_pem)
        )
        https_server.route("POST", "/echo", Response(418))
        second = session.post(https_server.url_for("/echo"), data=b"x", verify=str(test_ca.ca_pem))
        https_server.remove_route("POST", "/echo")
        third = session.post(https_server.url_for("/echo"), data=b"x", verify=str(test_ca.ca_pem))
    assert first.json() == {"method": "POST", "body": "ping"}
    assert (second.status_code, third.status_code) == (418, 404)


def test_failing_route_gives_500_and_is_recorded(
    https_server: HTTPSServer, test_ca: TestCA
) -> None:
    """An exception in a route function becomes a 500 and lands in server.errors."""

    def broken(request: Request) -> Response:
        raise RuntimeError("route bug")

    https_server.route("GET", "/broken", broken)
    conn = connect(https_server, test_ca.client_context())
    conn.request("GET", "/broken")
    assert conn.getresponse().status == 500
    conn.close()
    assert [str(e) for e in https_server.errors] == ["route bug"]


def test_plain_http_mode() -> None:
    """With tls=False the server speaks plain HTTP and its default response can be changed."""
    with HTTPSServer({("GET", "/"): Response.text("root")}, tls=False) as server:
        assert server.url.startswith("http://")
        server.set_default(Response(410))
        conn = connect(server, None)
        conn.request("GET", "/")
        first = conn.getresponse()
        assert (first.status, first.read()) == (200, b"root")
        conn.request("GET", "/gone")
        assert conn.getresponse().status == 410
        conn.close()
        assert [r.tls for r in server.requests] == [False, False]
