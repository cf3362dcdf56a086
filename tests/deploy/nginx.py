"""deploy/nginx: the configuration every deployment shares, and compose's addresses turned into a test's.

nginx.conf and upstream.conf ship for every deployment and are run as they are; they include
listen.conf (where nginx listens) and instances.conf (the moodline instances), which each deployment
puts beside them. Compose's are in deploy/nginx/compose/. :func:`loopback_addresses` turns those into a
test's: the same directives with loopback addresses, and it refuses anything else it would have to
drop, so whatever compose adds to them either reaches the test or stops it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.deploy.dockerfile import ROOT

NGINX_DIR = ROOT / "deploy" / "nginx"
SHARED_FILES = ("nginx.conf", "upstream.conf")
COMPOSE_ADDRESSES = NGINX_DIR / "compose"
ADDRESS_FILES = ("listen.conf", "instances.conf")

COMPOSE_LISTEN = "listen 8080;"
# Docker's DNS finds the replicas of `app`; nginx >= 1.27.3 asks it again and again (`resolve`).
COMPOSE_SERVER = re.compile(r"server app:8000 resolve (?P<parameters>[^;]+);")
COMPOSE_RESOLVER = re.compile(r"resolver 127\.0\.0\.11 [^;]*;")


def directives(path: Path) -> list[str]:
    """The directives of a small one-directive-a-line file, without comments and blank lines."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def loopback_addresses(listen_port: int, instance_ports: Sequence[int]) -> dict[str, str]:
    """Compose's listen.conf and instances.conf with loopback addresses in: file name -> text.

    ``listen 8080;`` becomes ``listen 127.0.0.1:PORT;``. The one ``server app:8000 resolve PARAMETERS;``
    becomes a ``server 127.0.0.1:PORT PARAMETERS;`` per instance, the same parameters (failure
    handling) for each. ``resolve`` and the ``resolver`` go: they are how compose turns the name
    ``app`` into addresses, and an IP address needs no resolving (Debian's nginx 1.22 could not parse
    ``resolve`` either: it came in 1.27.3).
    """
    listen = directives(COMPOSE_ADDRESSES / "listen.conf")
    if listen != [COMPOSE_LISTEN]:
        raise ValueError(f"compose's listen.conf is not just `{COMPOSE_LISTEN}`: {listen}")
    instances = directives(COMPOSE_ADDRESSES / "instances.conf")
    servers = [found for line in instances if (found := COMPOSE_SERVER.fullmatch(line))]
    others = [line for line in instances if not COMPOSE_SERVER.fullmatch(line) and not COMPOSE_RESOLVER.fullmatch(line)]
    if len(servers) != 1 or others:
        raise ValueError(f"compose's instances.conf is not one resolver and one `server app:8000 resolve`: {instances}")
    parameters = servers[0]["parameters"]
    return {
        "listen.conf": f"listen 127.0.0.1:{listen_port};\n",
        "instances.conf": "".join(f"server 127.0.0.1:{port} {parameters};\n" for port in instance_ports),
    }


def compose_addresses() -> dict[str, str]:
    """Compose's own address files, as compose mounts them: file name -> text."""
    return {name: (COMPOSE_ADDRESSES / name).read_text() for name in ADDRESS_FILES}


def lay_out(directory: Path, addresses: Mapping[str, str]) -> Path:
    """``directory`` as nginx's configuration directory; returns its nginx.conf, for ``nginx -c``.

    The shared files are links to the shipped ones, so nginx reads those very files (it resolves
    ``include`` against the directory of ``-c``, not of the link's target); the address files are written.
    """
    for name in SHARED_FILES:
        (directory / name).symlink_to(NGINX_DIR / name)
    for name, text in addresses.items():
        (directory / name).write_text(text)
    return directory / "nginx.conf"
