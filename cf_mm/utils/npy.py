"""Reading ``.npy`` headers before trusting a file (framework-free).

``np.load`` allocates what the header claims: a corrupt or foreign header
saying ``shape=(10**12,)`` fails with "Unable to allocate 7.28 TiB", naming
no file. :func:`read_npy_header` checks the header against the file size
first.
"""
import os
from typing import Optional, Tuple

import numpy as np


def read_npy_header(path: str, ndim: Optional[int] = None
                    ) -> Tuple[Tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset of a ``.npy`` file, checked.

    Args:
        path (str): The file.
        ndim (int, optional): Required number of dimensions.

    Returns:
        tuple: ``(shape, dtype, data_offset)``.

    Raises:
        ValueError: Not a ``.npy`` file, a pickled (object) array, Fortran
            order, another number of dimensions, or a size other than the
            header implies; the message names the file.
    """
    try:
        with open(path, 'rb') as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                header = np.lib.format.read_array_header_1_0(f)
            else:
                header = np.lib.format.read_array_header_2_0(f)
            offset = f.tell()
    except (ValueError, OSError, SyntaxError, EOFError) as err:
        raise ValueError(f'{path} is not a readable .npy file: {err}') \
            from err
    shape, fortran_order, dtype = header
    if dtype.hasobject:
        raise ValueError(f'{path} holds Python objects (a pickled array), '
                         'which cf_mm never loads')
    if fortran_order:
        raise ValueError(f'{path}: Fortran-ordered arrays are not supported')
    if ndim is not None and len(shape) != ndim:
        raise ValueError(f'{path} must hold a {ndim}-D array, got shape '
                         f'{shape}')
    expected = offset + int(np.prod(shape, dtype=object)) * dtype.itemsize
    size = os.path.getsize(path)
    if size != expected:
        raise ValueError(
            f'{path}: its header says {dtype} of shape {shape} '
            f'({expected} bytes with the header) but the file has {size} '
            'bytes (truncated or corrupt)')
    return tuple(int(s) for s in shape), dtype, offset
