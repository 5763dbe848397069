"""Docker's create/run flags beyond chapter 6's first part, as edits of a new container's
bundle and record (`extras` of container.lifecycle.create): --restart, --stop-signal,
--stop-timeout, --memory-swap, -v/--mount."""
from minidocker.container.bundle import parse_bytes
from minidocker.errors import MinidockerError

POLICIES = ("no", "always", "on-failure", "unless-stopped")


def restart_policy(text: str) -> dict:
    """no | always | unless-stopped | on-failure[:N] -> Docker's RestartPolicy."""
    name, has_count, count = (text or "no").partition(":")
    if name not in POLICIES:
        raise MinidockerError(f"invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', "
                              "'on-failure', or 'unless-stopped'")
    if has_count and not count.isdigit():
        raise MinidockerError("invalid restart policy format: maximum retry count must be an integer")
    if has_count and name != "on-failure":
        raise MinidockerError("invalid restart policy: maximum retry count can only be used with 'on-failure'")
    return {"Name": name, "MaximumRetryCount": int(count or 0)}


def restart_extra(policy: dict):
    def apply(spec: dict, record: dict):
        record["HostConfig"]["RestartPolicy"] = policy
        record["RestartCount"] = 0
    return apply


def stop_extra(signal: str | None, timeout: int | None):
    """The image's StopSignal unless --stop-signal says otherwise; --stop-timeout."""
    def apply(spec: dict, record: dict):
        from minidocker.image.store import Store
        image = Store().config(record["Image"]).get("config") or {}
        if signal or image.get("StopSignal"):
            record["Config"]["StopSignal"] = signal or image["StopSignal"]
        if timeout is not None:
            record["Config"]["StopTimeout"] = timeout
    return apply


def memory_swap_extra(text: str):
    """--memory-swap: memory plus swap (-1: unlimited swap), as Docker."""
    swap = -1 if text == "-1" else parse_bytes(text)

    def apply(spec: dict, record: dict):
        memory = spec["linux"]["resources"].setdefault("memory", {})
        if not memory.get("limit"):
            raise MinidockerError("You should always set the Memory limit when using Memoryswap limit, see usage.")
        if swap != -1 and swap < memory["limit"]:
            raise MinidockerError("Minimum memoryswap limit should be larger than memory limit, see usage.")
        memory["swap"] = swap
        record["HostConfig"]["Resources"]["memory"] = memory
    return apply
