"""Leger's development-only test kit (not shipped in any wheel; see testkit/pyproject.toml).

* :mod:`leger_testkit.podman` – the ``podman_env``, ``leger_home`` and ``secrets_in_legerd``
  fixtures (pytest11) and :class:`~leger_testkit.podman.ArgvWatch`;
* :mod:`leger_testkit.podmanenv` – podman as this machine runs it (runc, lowered ulimits, a
  private storage root, a busybox image), also used by the demo and the benchmarks;
* :mod:`leger_testkit.setec_wire` – raw HTTP to legerd, byte for byte;
* :mod:`leger_testkit.userenv` – the environment of a fresh user (private home and XDG dirs);
* :mod:`leger_testkit.web` – browser sessions and Debian's Chromium for the web UI's tests.
"""
