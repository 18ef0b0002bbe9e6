"""The one settings system every part of Stratum uses.

- :mod:`~adaptive_router.settings.fields`: ``setting()`` (default, help, range), validation
  and conversion of loosely typed values for the frozen settings dataclasses;
- :mod:`~adaptive_router.settings.files`: the loader of every table (``[routing]``,
  ``[proxy]``, ``[stack]``, ``[bench]``): defaults < file < environment < flags;
- :mod:`~adaptive_router.settings.flags`: one click option per setting, with its
  environment variable.
"""

from adaptive_router.settings.fields import from_flat, setting, validate
from adaptive_router.settings.files import load_sections

__all__ = ["from_flat", "load_sections", "setting", "validate"]
