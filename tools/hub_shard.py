"""Write rows as a parquet shard in the schema of the ``ai4bharat/IndicVoices`` hub release.

Test fixtures and benchmarks use it to build a local snapshot of the release (no hub access):
``<language>/<split>-XXXXX-of-NNNNN.parquet`` shards with the audio bytes inside.
"""

from __future__ import annotations

from pathlib import Path

#: String columns of the hub schema besides the audio struct, ``duration`` and ``samples``.
HUB_TEXT_COLUMNS = tuple(
    "text lang verbatim normalized speaker_id scenario task_name gender age_group job_type qualification "
    "area district state occupation verification_report unsanitized_verbatim unsanitized_normalized".split()
)


def write_hub_shard(rows: list[dict], path: str | Path, row_group_size: int = 64) -> Path:
    """Write ``rows`` as one parquet shard in the hub release's schema (test fixtures, own data).

    Each row has ``audio`` (encoded file bytes), ``path`` (file name), ``duration``, ``samples`` and
    any of :data:`HUB_TEXT_COLUMNS` (missing ones are empty strings).

    Example
    -------
    >>> import io, tempfile, numpy as np, soundfile as sf
    >>> buf = io.BytesIO(); sf.write(buf, np.zeros(1600, "float32"), 16000, format="WAV")
    >>> row = {"audio": buf.getvalue(), "path": "a.wav", "duration": 0.1, "samples": 1600, "text": "x"}
    >>> out = write_hub_shard([row], tempfile.mkdtemp() + "/train-00000-of-00001.parquet")
    >>> import pyarrow.parquet as pq
    >>> pq.ParquetFile(out).schema_arrow.field("audio_filepath").type
    StructType(struct<bytes: binary, path: string>)
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    audio_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    # Column order as in the published dataset_info (see the module docstring).
    strings = {col: pa.array([r.get(col, "") for r in rows], pa.string()) for col in HUB_TEXT_COLUMNS}
    data = {
        "audio_filepath": pa.array([{"bytes": r["audio"], "path": r["path"]} for r in rows], audio_type),
        "text": strings.pop("text"),
        "duration": pa.array([float(r["duration"]) for r in rows], pa.float64()),
        "lang": strings.pop("lang"),
        "samples": pa.array([int(r["samples"]) for r in rows], pa.int64()),
        **strings,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(data), path, row_group_size=row_group_size)
    return path
