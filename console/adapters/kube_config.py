"""Finding the API server and credentials as kubectl does: an explicit kubeconfig, $KUBECONFIG (first
file of the list), ~/.kube/config, or the pod's in-cluster service account. kubernetes_asyncio is imported
here, lazily, so the console's start-up does not pay for it unless a cluster is used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from console.engine.ports import ClusterConfigError, ClusterError


def _kubeconfig_path(explicit: str | None) -> Path | None:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("KUBECONFIG", "")
    for candidate in env.split(os.pathsep):
        if candidate and Path(candidate).expanduser().exists():
            return Path(candidate).expanduser()
    default = Path("~/.kube/config").expanduser()
    return default if default.exists() else None


def refuse_token_over_http(configuration: Any, allow: bool) -> None:
    """A bearer token never travels over plain http (anyone on the path could replay it), unless the
    configuration says so explicitly (kube.allow_token_over_http, for tests against a loopback double)."""
    host = str(getattr(configuration, "host", "") or "")
    tokens = getattr(configuration, "api_key", None) or {}
    if host.lower().startswith("http://") and tokens and not allow:
        raise ClusterConfigError(f"refusing to send the kubeconfig's bearer token over plain http to {host}: "
                                 "use https (or set kube.allow_token_over_http: true for a test server)")


async def load_client(kubeconfig: str | None, context: str | None,
                      allow_token_over_http: bool = False) -> tuple[Any, str]:
    """(ApiClient, the Kubernetes user name to show in audit). Never returns or logs a token."""
    from kubernetes_asyncio import client, config
    from kubernetes_asyncio.config.config_exception import ConfigException

    configuration = client.Configuration()
    path = _kubeconfig_path(kubeconfig)
    if path is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        try:
            config.load_incluster_config(client_configuration=configuration)
        except ConfigException as exc:
            raise ClusterError(f"in-cluster configuration failed: {exc}", retryable=False) from None
        return client.ApiClient(configuration), "serviceaccount"
    if path is None:
        raise ClusterError("no kubeconfig: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config, or run "
                           "in a pod with a service account", retryable=False)
    if not path.exists():
        raise ClusterError(f"kubeconfig {path} does not exist", retryable=False)
    try:
        loader = await config.load_kube_config(config_file=str(path), context=context,
                                               client_configuration=configuration, persist_config=False)
    except (ConfigException, OSError, ValueError, KeyError, TypeError) as exc:
        message = str(exc).split("\n")[0]
        raise ClusterError(f"kubeconfig {path}: {message}", retryable=False) from None
    refuse_token_over_http(configuration, allow_token_over_http)
    current = loader.current_context or {}
    user = (current.get("context") or {}).get("user") or "unknown"
    return client.ApiClient(configuration), str(user)
