"""Releasing what an mmengine Runner registers globally (loggers, message hubs, visualizers) after a run."""
import logging

__all__ = ['release_runner_instances', 'release_instances']


def release_runner_instances(runner) -> None:
    """Close the file handlers of ``runner``'s logger and remove the manager instances (logger, message hub,
    visualizer) registered under its experiment name."""
    for backend in runner.visualizer._vis_backends.values():
        backend.close()
    release_instances([runner.experiment_name])


def release_instances(names) -> None:
    """Close the log files of the mmengine loggers named ``names`` and drop their logger, message hub and visualizer
    instances (what a Runner registers under its experiment name; also after a Runner failed half-built)."""
    from mmengine.logging import MessageHub, MMLogger
    from mmengine.visualization import Visualizer
    for name in names:
        logger = MMLogger._instance_dict.get(name)
        for handler in list(logger.handlers if logger is not None else []):
            if isinstance(handler, logging.FileHandler):
                handler.close()
                logger.removeHandler(handler)
        for manager in (MMLogger, MessageHub, Visualizer):
            manager._instance_dict.pop(name, None)
