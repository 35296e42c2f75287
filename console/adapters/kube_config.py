"""Finding the API server and credentials as kubectl does: an explicit kubeconfig, $KUBECONFIG (first
file of the list), ~/.kube/config, or the pod's in-cluster service account. kubernetes_asyncio is imported
here, lazily, so the console's start-up does not pay for it unless a cluster is used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from console.engine.ports import ClusterConfigError, ClusterError

_LISTS = ("clusters", "contexts", "users")
_STRINGS = {"users": ("token", "username", "password", "client-certificate", "client-key",
                      "client-certificate-data", "client-key-data", "tokenFile"),
            "clusters": ("server", "certificate-authority", "certificate-authority-data"),
            "contexts": ("cluster", "user", "namespace")}
_INNER = {"users": "user", "clusters": "cluster", "contexts": "context"}


def check_kubeconfig(path: Path) -> None:
    """Refuse a kubeconfig whose shape the client library would trip over (with a traceback, or worse, by
    sending a token that is not one): not UTF-8 YAML, not a mapping, lists that are not lists of mappings,
    fields that must be strings and are not. Raises ClusterConfigError (exit 2) naming the file and the field."""
    import yaml

    try:
        data = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise ClusterConfigError(f"kubeconfig {path}: cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ClusterConfigError(f"kubeconfig {path}: not a text file (not UTF-8)") from None
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ClusterConfigError(f"kubeconfig {path}: not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise ClusterConfigError(f"kubeconfig {path}: the top level must be a mapping, not {type(data).__name__}")
    for key in _LISTS:
        entries = data.get(key) or []
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ClusterConfigError(f"kubeconfig {path}: field '{key}' must be a list of named entries")
        for index, entry in enumerate(entries):
            inner = entry.get(_INNER[key]) or {}
            if not isinstance(inner, dict):
                raise ClusterConfigError(f"kubeconfig {path}: field '{key}[{index}].{_INNER[key]}' must be a mapping")
            for name in _STRINGS[key]:
                if name in inner and not isinstance(inner[name], str):
                    raise ClusterConfigError(f"kubeconfig {path}: field '{key}[{index}].{_INNER[key]}.{name}' must "
                                      "be a string")


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


async def load_client(kubeconfig: str | None, context: str | None, allow_token_over_http: bool = False,
                      serviceaccount_dir: str = "/var/run/secrets/kubernetes.io/serviceaccount") -> tuple[Any, str]:
    """(ApiClient, the Kubernetes user name to show in audit). Never returns or logs a token."""
    from kubernetes_asyncio import client, config
    from kubernetes_asyncio.config.config_exception import ConfigException

    configuration = client.Configuration()
    path = _kubeconfig_path(kubeconfig)
    if path is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        from kubernetes_asyncio.config.incluster_config import InClusterConfigLoader

        account = Path(serviceaccount_dir)  # config kube.serviceaccount_dir: tests give the pod's files
        try:
            InClusterConfigLoader(token_filename=str(account / "token"),
                                  cert_filename=str(account / "ca.crt")).load_and_set(configuration)
        except ConfigException as exc:
            raise ClusterError(f"in-cluster configuration failed: {exc}", retryable=False) from None
        return client.ApiClient(configuration), _token_subject(account / "token")
    if path is None:
        raise ClusterError("no kubeconfig: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config, or run "
                           "in a pod with a service account", retryable=False)
    if not path.exists():
        raise ClusterError(f"kubeconfig {path} does not exist", retryable=False)
    check_kubeconfig(path)
    try:
        loader = await config.load_kube_config(config_file=str(path), context=context,
                                               client_configuration=configuration, persist_config=False)
    except (ConfigException, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        message = " ".join(str(exc).split("\n")[0].split())[:200] or type(exc).__name__
        raise ClusterConfigError(f"kubeconfig {path}: {message}") from None
    refuse_token_over_http(configuration, allow_token_over_http)
    current = loader.current_context or {}
    user = (current.get("context") or {}).get("user") or "unknown"
    return client.ApiClient(configuration), str(user)


def _token_subject(path: Path) -> str:
    """Who a ServiceAccount token says it is (its `sub`, e.g. system:serviceaccount:butterfly:NAME), for the
    audit trail only: the claim is read, not verified (the API server verifies it); the token is never kept."""
    import base64
    import json

    try:
        payload = path.read_text().strip().split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(claims.get("sub") or "serviceaccount")
    except (OSError, IndexError, ValueError):
        return "serviceaccount"
