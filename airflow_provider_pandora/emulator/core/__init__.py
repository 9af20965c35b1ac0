"""The emulator's core: what it stores (:mod:`.store`, :mod:`.state`), what it runs in the background
(:mod:`.background`), the faults tests inject (:mod:`.faults`), the error answer (:mod:`.errors`), and the
:class:`~.service.Engine` that ties them together. No HTTP here; the endpoints call into this."""
