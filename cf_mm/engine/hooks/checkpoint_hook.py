"""mmengine's ``CheckpointHook``, crash-safe on a local disk.

mmengine 0.10.7 (``CheckpointHook._save_checkpoint_with_step``) deletes the
oldest kept checkpoint *before* it writes the new one, writes the new one
straight to ``epoch_N.pth`` and then ``last_checkpoint``. A kill during the
save with ``max_keep_ckpts=1`` therefore leaves no checkpoint to resume:
``epoch_{N-1}.pth`` is gone, ``epoch_N.pth`` is truncated. This subclass
keeps every option of mmengine's hook and changes the order and the
writes: the new checkpoint goes to ``epoch_N.pth.tmp-<pid>``, is fsynced and
renamed into place, ``last_checkpoint`` is replaced atomically, and only
then is the outdated checkpoint removed. At every instant the work dir holds
a complete checkpoint that ``last_checkpoint`` names.

It is registered as ``CheckpointHook`` in mmpretrain's (and, with the video
extra, mmaction2's) ``HOOKS``, so ``default_hooks.checkpoint`` of every
config (cf_mm's and stock mmpretrain ones) gets it once ``cf_mm`` is
imported; non-local backends (``s3://``, petrel) and ``save_best`` keep
mmengine's behaviour.
"""
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook as MMEngineCheckpointHook
from mmpretrain.registry import HOOKS

from cf_mm.utils.atomic import (TMP_INFIX, atomic_write, remove_stale_tmp,
                                write_error)


@HOOKS.register_module(name='CheckpointHook')
class CheckpointHook(MMEngineCheckpointHook):
    """``mmengine.hooks.CheckpointHook`` whose saves survive a kill at any
    moment (same arguments; see the module docstring)."""

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not isinstance(self.file_backend, LocalBackend):
            return super()._save_checkpoint_with_step(runner, step, meta)
        outdated = None
        if self.max_keep_ckpts > 0 and not (
                self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        if is_main_process():
            remove_stale_tmp(self.last_ckpt)
        tmp_name = f'{filename}{TMP_INFIX}{os.getpid()}'
        runner.save_checkpoint(  # rank 0 writes (mmengine: master_only)
            self.out_dir, tmp_name, self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta,
            by_epoch=self.by_epoch, backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        tmp = self.file_backend.join_path(self.out_dir, tmp_name)
        try:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.last_ckpt)
        except OSError as err:
            raise write_error(err, self.last_ckpt) from err
        finally:
            if osp.exists(tmp):
                os.remove(tmp)
        atomic_write(osp.join(runner.work_dir, 'last_checkpoint'),
                     self.last_ckpt)
        if outdated is not None:
            path = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(outdated))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # deepspeed checkpoints
                self.file_backend.rmtree(path)
