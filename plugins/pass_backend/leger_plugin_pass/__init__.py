"""The ``pass`` secret backend: password-store (https://www.passwordstore.org/) through the
``pass`` command. The hooks are in :mod:`leger_plugin_pass.plugin`; the backend in
:mod:`leger_plugin_pass.backend` stays cheap to import (it is the fast entry)."""
