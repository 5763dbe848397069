"""runc's `pause` and `resume`: every process of a container stops in the freezer of its
cgroup (v1 freezer.state, v2 cgroup.freeze) and cannot tell; resume thaws them."""
from minidocker.runtime import cgroups, state
from minidocker.runtime.state import ContainerStateError


def container_cgroup(root, container_id: str) -> cgroups.Cgroup:
    """The cgroup of a container that is still alive."""
    st = state.load(root, container_id)
    if st.status() == "stopped":
        raise ContainerStateError(f"container {container_id!r} is not running")
    if not st.cgroup:
        raise ContainerStateError(f"container {container_id!r} has no cgroup to freeze")
    return cgroups.lookup(st.cgroup["path"])


def pause(root, container_id: str):
    container_cgroup(root, container_id).freeze()


def resume(root, container_id: str):
    container_cgroup(root, container_id).thaw()


def paused(root, container_id: str) -> bool:
    try:
        return container_cgroup(root, container_id).frozen
    except Exception:           # gone, or no freezer: not paused
        return False
