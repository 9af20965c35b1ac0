"""What leaves or enters the emulator besides API calls: export deliveries (:mod:`.export_targets`), the files
a ``kodo`` repo reads (:mod:`.kodo_source`) and when an offline job fires (:mod:`.schedules`). Pure: no
server, no store."""
