"""systemd's readiness protocol, in the standard library: one datagram to ``$NOTIFY_SOCKET``.

``legerd.service`` is ``Type=notify``: systemd counts legerd as started only once it has said
``READY=1``, which it does after its sockets listen, so units ordered ``After=legerd.service``
(the quadlet snippet's lines) never start before legerd answers.
"""

from __future__ import annotations

import os
import socket


def notify(state: str) -> bool:
    """Send ``state`` (e.g. ``READY=1``) to the service manager; False when not run by one.
    A failure to send is not an error: legerd works the same without systemd."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    elif not address.startswith("/"):
        return False  # unset, or a transport (vsock) legerd does not speak
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError:
        return False
    return True
