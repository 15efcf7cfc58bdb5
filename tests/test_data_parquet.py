"""Parquet/Arrow corpora: the IndicVoices hub release and the generic column-mapped source."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import soundfile as sf

from speechbrain_m4t_adapters.data import read_asr_manifest, read_skipped, select_hours, skipped_path
from speechbrain_m4t_adapters.data.indicvoices import prepare_indicvoices
from speechbrain_m4t_adapters.data.manifest import AsrEntry
from speechbrain_m4t_adapters.data.parquet import ColumnError, prepare_parquet
from speechbrain_m4t_adapters.data.specs import prepare_asr_spec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from hub_shard import write_hub_shard  # noqa: E402  (a fixture writer)

REAL = Path(__file__).parent / "fixtures" / "real"


def respin_rows(folder: str, lang: str) -> list[dict]:
    """The shipped RESPIN clips as hub rows (speaker = the id's 5th field)."""
    rows = []
    for line in (REAL / "respin" / folder / "transcripts.tsv").read_text(encoding="utf-8").splitlines():
        utt, text = line.split("\t", 1)
        wav = REAL / "respin" / folder / "wav" / f"{utt}.wav"
        info = sf.info(str(wav))
        rows.append(
            {
                "audio": wav.read_bytes(),
                "path": f"{utt}.wav",
                "duration": info.frames / info.samplerate,
                "samples": info.frames,
                "verbatim": text,
                "normalized": text,
                "text": "TEXT COLUMN " + text,
                "lang": lang,
                "speaker_id": utt.split("_")[4],
                "gender": utt.split("_")[6],
            }
        )
    return rows


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Path:
    """A local snapshot shaped like ai4bharat/IndicVoices: <language>/{train,valid}-*.parquet."""
    root = tmp_path_factory.mktemp("IndicVoices")
    bn = respin_rows("bn", "bn")
    write_hub_shard(bn[:3], root / "bengali" / "train-00000-of-00002.parquet", row_group_size=2)
    write_hub_shard(bn[3:], root / "bengali" / "train-00001-of-00002.parquet", row_group_size=2)
    write_hub_shard(respin_rows("mt", "mai")[:2], root / "bengali" / "valid-00000-of-00001.parquet")
    return root


def test_hub_release_reads_every_row_and_decodes_audio(hub, tmp_path):
    csv = tmp_path / "train.csv"
    report = prepare_indicvoices(hub / "bengali", csv, split="train", max_duration=None)
    entries = read_asr_manifest(csv)
    originals = {r["path"][:-4]: r for r in respin_rows("bn", "bn")}
    assert report.kept == 6 and report.num_skipped == 0
    assert {e.id for e in entries} == set(originals)
    for e in entries:
        assert e.language == "ben"  # from the folder name
        assert e.transcript == originals[e.id]["verbatim"]  # text_field defaults to verbatim
        assert e.duration == pytest.approx(originals[e.id]["duration"], abs=1e-6)
        written, _ = sf.read(e.wav, dtype="int16")
        source, _ = sf.read(REAL / "respin" / "bn" / "wav" / f"{e.id}.wav", dtype="int16")
        np.testing.assert_array_equal(written, source)
        assert Path(e.wav).parent == tmp_path / "train_audio"
    # The valid shard holds Maithili rows: skipped as another language, not relabelled Bengali.
    valid = prepare_indicvoices(hub / "bengali", tmp_path / "valid.csv", split="valid")
    assert valid.kept == 0 and valid.counts == {"bad_row": 2}
    assert all(item.detail == "language 'mai', not 'ben'" for item in valid.items)
    assert prepare_indicvoices(hub / "bengali", tmp_path / "mai.csv", split="valid", language="mai").kept == 2


def test_hub_hours_subset_is_seeded_speaker_aware_and_held_out_is_disjoint(hub, tmp_path):
    def ids(name, **kw):
        prepare_indicvoices(hub / "bengali", tmp_path / f"{name}.csv", split="train", **kw)
        entries = read_asr_manifest(tmp_path / f"{name}.csv")
        return {e.id for e in entries}, sum(e.duration for e in entries)

    budget = 9.0 / 3600
    first, secs = ids("a", hours=budget, seed=3)
    again, _ = ids("b", hours=budget, seed=3)
    held, held_secs = ids("c", hours=budget, seed=3, skip_hours=budget)
    assert first == again and 0 < secs <= 9.0
    assert first and held and not first & held and held_secs <= 9.0
    # Only the chosen rows' audio was decoded.
    assert len(list((tmp_path / "a_audio").glob("*.wav"))) == len(first)


def test_select_hours_speaker_aware_spreads_the_budget():
    rows = [AsrEntry(f"u{i}", 10.0, "/x.wav", "ory", "t") for i in range(10)]
    speakers = ["talkative"] * 9 + ["quiet"]
    for seed in range(5):
        picked = select_hours(rows, 20.0 / 3600, seed, speakers)
        assert len(picked) == 2 and "u9" in {r.id for r in picked}
    # Without speakers: plain seeded shuffle (the quiet speaker is mostly left out).
    assert sum("u9" in {r.id for r in select_hours(rows, 20.0 / 3600, s)} for s in range(5)) < 5


def test_undecodable_rows_are_counted_skipped_and_the_budget_refilled(tmp_path):
    rows = respin_rows("bn", "or")  # Bengali clips standing in for Odia rows (labelled so)
    rows[1] = dict(rows[1], audio=b"RIFF not really audio", path="broken.wav")
    shard = write_hub_shard(rows, tmp_path / "odia" / "train-00000-of-00001.parquet", row_group_size=2)
    csv = tmp_path / "all.csv"
    report = prepare_indicvoices(shard.parent, csv, language="ory")
    assert report.counts == {"corrupt_audio": 1} and report.kept == 5
    assert read_skipped(skipped_path(csv))[0].id == "broken"
    # A budget of everything but one clip: the broken row's share is refilled from the rest.
    total = sum(r["duration"] for r in rows)
    for seed in range(4):
        out = tmp_path / f"sub{seed}.csv"
        prepare_indicvoices(shard.parent, out, language="ory", hours=total / 3600, seed=seed)
        assert len(read_asr_manifest(out)) == 5


def test_wrong_folder_split_and_missing_column_errors(hub, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        prepare_parquet(hub / "odia", tmp_path / "x.csv", language="ory")
    with pytest.raises(FileNotFoundError, match="split 'test'"):
        prepare_indicvoices(hub / "bengali", tmp_path / "x.csv", split="test")
    with pytest.raises(
        ColumnError, match=r"'sentence'.*'text'.*available columns: \['audio_filepath', 'text'"
    ):
        prepare_parquet(
            hub / "bengali",
            tmp_path / "x.csv",
            columns={"audio": "audio_filepath", "text": "sentence"},
            language="ben",
        )


def test_generic_arrow_folder_with_yaml_column_map(tmp_path):
    """A `datasets` save_to_disk folder (Arrow stream files per split), no duration column."""
    rows = respin_rows("mt", "mai")
    audio_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    table = pa.table(
        {
            "id": [f"mt{i}" for i in range(len(rows))],
            "audio": pa.array([{"bytes": r["audio"], "path": None} for r in rows], audio_type),
            "transcription": [r["verbatim"] for r in rows],
            "language": ["mai"] * len(rows),
        }
    )
    (tmp_path / "ds" / "test").mkdir(parents=True)
    with pa.OSFile(str(tmp_path / "ds" / "test" / "data-00000-of-00001.arrow"), "wb") as sink:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=4)
    spec = {
        "corpus": "parquet",
        "data_folder": str(tmp_path / "ds"),
        "split": "test",
        "columns": {"audio": "audio", "text": "transcription", "id": "id", "language": "language"},
    }
    report = prepare_asr_spec(spec, tmp_path / "mt.csv", batch_rows=1)
    entries = read_asr_manifest(tmp_path / "mt.csv")
    assert report.kept == 6 and [e.id for e in entries] == [f"mt{i}" for i in range(6)]
    assert {e.language for e in entries} == {"mai"}
    assert [e.duration for e in entries] == pytest.approx([r["duration"] for r in rows])


def test_generic_parquet_with_path_column(tmp_path):
    """Audio as file paths relative to the shard (e.g. an `audiofolder` export)."""
    folder = REAL / "respin" / "bn" / "wav"
    names = sorted(p.name for p in folder.glob("*.wav"))[:2]
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"file": names, "sentence": ["a", "b"]}), tmp_path / "data.parquet")
    for name in names:
        (tmp_path / name).symlink_to(folder / name)
    report = prepare_parquet(
        tmp_path / "data.parquet",
        tmp_path / "out.csv",
        columns={"audio": "file", "text": "sentence"},
        language="bn",
    )
    entries = read_asr_manifest(tmp_path / "out.csv")
    assert report.kept == 2 and [Path(e.wav).name for e in entries] == names
    assert not (tmp_path / "out_audio").exists() or not any((tmp_path / "out_audio").iterdir())


def test_repeated_audio_file_names_fall_back_to_row_ids(tmp_path):
    rows = [dict(r, path="audio.wav") for r in respin_rows("bn", "hi")]  # stand-ins, labelled Hindi
    shard = write_hub_shard(rows, tmp_path / "hindi" / "valid-00000-of-00001.parquet")
    report = prepare_indicvoices(shard.parent, tmp_path / "v.csv", split="valid")
    ids = [e.id for e in read_asr_manifest(tmp_path / "v.csv")]
    assert report.kept == 6 and ids == [f"valid-00000-of-00001_{i:07d}" for i in range(6)]
    assert {e.language for e in read_asr_manifest(tmp_path / "v.csv")} == {"hin"}


def test_hub_held_out_set_stays_disjoint_when_duration_limits_drop_training_rows(hub, tmp_path):
    """Training limits must not change the draw: the held-out set skips exactly the training draw."""
    durations = sorted(r["duration"] for r in respin_rows("bn", "bn"))
    limit, budget = durations[len(durations) // 2], sum(durations[:4]) / 3600  # half the rows too long
    for seed in range(6):
        kw = {"split": "train", "seed": seed}
        train = prepare_indicvoices(
            hub / "bengali", tmp_path / f"t{seed}.csv", hours=budget, max_duration=limit, **kw
        )
        drawn = prepare_indicvoices(hub / "bengali", tmp_path / f"d{seed}.csv", hours=budget, **kw)
        held = prepare_indicvoices(
            hub / "bengali", tmp_path / f"h{seed}.csv", hours=budget, skip_hours=budget, **kw
        )
        train_ids, drawn_ids, held_ids = (
            {e.id for e in read_asr_manifest(tmp_path / f"{n}{seed}.csv")} for n in "tdh"
        )
        assert not train_ids & held_ids and held_ids, seed
        too_long = set(train.ids("too_long"))
        assert train_ids | too_long == drawn_ids and train.kept == len(train_ids), (
            seed
        )  # the draw, less the long rows
        assert drawn.kept == len(drawn_ids) and held.kept == len(held_ids)


def test_non_finite_hub_durations_are_bad_rows_with_or_without_an_hours_budget(tmp_path):
    # A NaN or infinite duration cell passed the metadata checks (NaN compares False with every
    # limit): kept with its header duration without a budget, silently never drawn with one.
    rows = respin_rows("bn", "or")
    rows[0], rows[2] = dict(rows[0], duration=float("nan")), dict(rows[2], duration=float("inf"))
    shard = write_hub_shard(rows, tmp_path / "odia" / "train-00000-of-00001.parquet")
    bad = {rows[0]["path"][:-4], rows[2]["path"][:-4]}
    total = sum(r["duration"] for i, r in enumerate(rows) if i not in (0, 2))
    for name, budget in (("all", None), ("budget", total / 3600)):
        report = prepare_indicvoices(shard.parent, tmp_path / f"{name}.csv", language="ory", hours=budget)
        assert report.counts == {"bad_row": 2} and report.kept == 4, (name, report.counts)
        assert {item.id for item in report.items} == bad
        assert all("duration" in item.detail for item in report.items)
        assert not bad & {e.id for e in read_asr_manifest(tmp_path / f"{name}.csv")}


def test_held_out_set_stays_disjoint_from_the_training_refill_after_undecodable_audio(tmp_path):
    # Train (hours) and valid (same split, skip_hours = the training budget) are prepared apart. A
    # training row that does not decode is refilled from rows not tried yet; the valid set replays
    # that draw, so the refill cannot take a validation row. Six clips, train 3 and valid 3 of them:
    # every refill row is one that valid would otherwise take.
    rows = respin_rows("bn", "or")
    budget = 3.5 / 3600  # 3 clips of 1 s (a half-second margin: no rounding at the edge)
    rows = [dict(r, duration=1.0) for r in rows]  # equal lengths: budgets count clips
    for seed in range(6):
        folder = tmp_path / f"s{seed}" / "odia"
        first = select_hours(
            [AsrEntry(r["path"][:-4], 1.0, "/x.wav", "ory", "t") for r in rows],
            budget,
            seed,
            [r["speaker_id"] for r in rows],
        )
        broken = first[0].id  # a training clip whose audio is broken
        damaged = [dict(r, audio=b"RIFF no audio") if r["path"][:-4] == broken else r for r in rows]
        write_hub_shard(damaged, folder / "train-00000-of-00001.parquet")
        train = prepare_indicvoices(
            folder, folder.parent / "train.csv", language="ory", hours=budget, seed=seed
        )
        valid = prepare_indicvoices(
            folder,
            folder.parent / "valid.csv",
            language="ory",
            hours=budget,
            skip_hours=budget,
            seed=seed,
        )
        train_ids = {e.id for e in read_asr_manifest(folder.parent / "train.csv")}
        valid_ids = {e.id for e in read_asr_manifest(folder.parent / "valid.csv")}
        assert train.counts == {"corrupt_audio": 1} and len(train_ids) == 3, (seed, train.counts)
        assert not train_ids & valid_ids, (seed, train_ids, valid_ids)
        assert broken not in train_ids | valid_ids and len(valid_ids) == 2  # 5 usable clips in all
        assert valid.counts == {}  # the replayed training draw reports nothing of its own
