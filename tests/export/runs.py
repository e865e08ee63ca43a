"""Options of the small runs the export, streaming and serving tests train."""

TINY_MAXWELL = {
    "train_size": 16,
    "validation_size": 4,
    "test_size": 4,
    "segments": 2,
    "steps_per_segment": 5,
}
