"""A test hook that stops a run inside the save of one checkpoint (imported
by test configs through ``custom_imports``)."""
import time

from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


class SaveCrash(Exception):
    pass


@HOOKS.register_module(force=True)
class BlockInSaveHook(Hook):
    """Inside ``Runner.save_checkpoint`` of epoch ``epoch`` (after
    mmengine's CheckpointHook would have deleted the previous checkpoint,
    before the new one is written): print a marker and sleep, for a kill -9,
    or raise :class:`SaveCrash` (``crash=True``)."""

    def __init__(self, epoch: int, crash: bool = False):
        self.epoch = epoch
        self.crash = crash

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if checkpoint['meta'].get('epoch') != self.epoch:
            return
        if self.crash:
            raise SaveCrash(f'crash in the save of epoch {self.epoch}')
        print(f'BLOCKED IN SAVE OF EPOCH {self.epoch}', flush=True)
        time.sleep(600)
