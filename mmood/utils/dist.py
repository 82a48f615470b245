"""Distributed helpers: compute once on the main process, share with every rank."""
from typing import Any, Callable

from mmengine.dist import broadcast_object_list, get_world_size, is_main_process


def compute_on_main(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on rank 0 only and broadcast its (picklable, CPU) result to all ranks.

    Outside a distributed run this is just ``fn()``. Any exception on rank 0 is re-raised on every rank, so
    no rank hangs waiting for a result that never comes.
    """
    if get_world_size() == 1:
        return fn()
    payload = [None]
    if is_main_process():
        try:
            payload = [('ok', fn())]
        except Exception as err:  # re-raised everywhere below
            payload = [('error', err)]
    broadcast_object_list(payload, src=0)
    status, value = payload[0]
    if status == 'error':
        raise value
    return value
