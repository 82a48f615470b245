"""One intra-op thread for a run whose numbers must not depend on the machine's core count."""
import torch
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class IntraOpThreadsHook(Hook):
    """Run with ``threads`` intra-op CPU threads (``torch.set_num_threads``), restored after the run.

    A CPU reduction split over another number of threads sums in another order, so a training run's last bits, and
    after some hundred steps its trained weights and metrics, depend on how many cores the machine has (the digits
    demo's tiny CLIP: 96.31 % ID accuracy with one thread, 95.94 % with two, same seed). The digits configs fix the
    count so that their recorded numbers reproduce on any machine; for a model this small one thread is as fast.

    Args:
        threads: intra-op threads for the run (default 1).
    """

    priority = 'VERY_HIGH'

    def __init__(self, threads: int = 1):
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f'IntraOpThreadsHook: threads must be an integer >= 1, got {threads!r}')
        self.threads = threads
        self._previous = None

    def before_run(self, runner) -> None:
        self._previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)

    def after_run(self, runner) -> None:
        if self._previous is not None:
            torch.set_num_threads(self._previous)
            self._previous = None
