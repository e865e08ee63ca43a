"""Keyword models trained on espeak-ng speech, scored on the ten keywords as another speech
synthesiser says them: does the model hear the words, or espeak-ng's voice?

    python benchmarks/keywords_engines.py RUN [RUN ...]      # score trained keywords runs
    python benchmarks/keywords_engines.py --seeds 3          # train the recipe's seeds first
    python benchmarks/keywords_engines.py --seeds 3 --task keywords-stream

The other engine is flite (``apt-get install -y flite``; CMU's engine, no part of espeak-ng):
its five English voices (``kal`` and ``kal16`` diphone voices, ``awb``, ``rms`` and ``slt``
cluster-unit voices), each word at three speaking rates (flite's ``duration_stretch`` 0.8, 1.0
and 1.25), clean and over noise at 20 dB SNR: 300 one-second clips, each word placed and scaled
as the keyword set places and scales espeak-ng's (``convrec.data.speech.mix``). No step of the
recipe hears them: they are written as class folders and scored by ``convrec evaluate RUN
--data FOLDER``. The table gives each run's accuracy on its own held-out espeak-ng voices
beside its accuracy on each flite voice and on all of them (chance: 1 in 12).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np
from provenance import revision
from rich.console import Console
from rich.table import Table

import convrec
from convrec.data import speech
from convrec.data.audio_files import read_audio
from convrec.data.keywords import LEVEL_DB, SPEECH_COMMANDS_KEYWORDS, to_int16
from convrec.train.trained import evaluate

FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
STRETCHES = (0.8, 1.0, 1.25)  # flite's duration_stretch: > 1 speaks slower
CONDITIONS = {"clean": None, "20 dB SNR": 20.0}
SEED = 0


def flite_word(word: str, voice: str, stretch: float, folder: Path) -> np.ndarray:
    """``word`` as flite's ``voice`` says it at ``stretch``: mono, 16 kHz, silence trimmed."""
    path = folder / f"{voice}-{stretch}-{word}.wav"
    subprocess.run(
        ["flite", "-voice", voice, "--setf", f"duration_stretch={stretch}", "-t", word, "-o", path],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return speech.trim_silence(read_audio(path, speech.SAMPLE_RATE))


def write_clip(path: Path, waveform: np.ndarray) -> None:
    """A 16-bit mono WAV at 16 kHz."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(speech.SAMPLE_RATE)
        file.writeframes(to_int16(waveform).astype("<i2").tobytes())


def build_flite_set(
    out: Path, words: tuple[str, ...] = SPEECH_COMMANDS_KEYWORDS, voices=FLITE_VOICES
) -> dict[str, Path]:
    """Write each flite voice's clips of ``words`` as class folders ``out/<voice>/<word>/``;
    return the folder of each voice. Offsets, levels and noise are drawn from one seeded
    generator, so the set is the same on every call."""
    if shutil.which("flite") is None:
        raise FileNotFoundError("flite is not installed: apt-get install -y flite")
    rng = np.random.default_rng(SEED)
    length = speech.SAMPLE_RATE
    with tempfile.TemporaryDirectory() as scratch:
        for voice in voices:
            for word in words:
                for stretch in STRETCHES:
                    samples = flite_word(word, voice, stretch, Path(scratch))[:length]
                    offset = int(rng.integers(0, length - len(samples) + 1))
                    level = rng.uniform(*LEVEL_DB)
                    for condition, snr in CONDITIONS.items():
                        # Noise is drawn for clean clips too, so each clip's draws stay the same
                        # whatever conditions come before it.
                        colour = rng.choice(list(speech.NOISE_EXPONENTS.values()))
                        noise = speech.colored_noise(rng, length, colour)
                        snr = np.inf if snr is None else snr
                        clip = speech.mix(length, [(offset, samples)], noise, level, snr)
                        name = f"{stretch}-{condition.replace(' ', '')}.wav"
                        write_clip(out / voice / word / name, clip)
    return {voice: out / voice for voice in voices}


def score(run: Path, folders: dict[str, Path]) -> dict[str, float]:
    """The run's test accuracy on its held-out espeak-ng voices, on each flite voice, and on
    every flite clip."""
    metrics = json.loads((run / "metrics.json").read_text())
    row = {"espeak-ng held out": metrics["test"]["test"]["accuracy"]}
    for voice, folder in folders.items():
        row[voice] = evaluate(run, folder)[folder.name]["accuracy"]
    row["flite, all"] = float(np.mean([row[voice] for voice in folders]))  # 60 clips each
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, help="trained keywords run directories")
    parser.add_argument("--seeds", type=int, default=0, help="train the recipe with seeds 0..N-1")
    parser.add_argument("--task", choices=("keywords", "keywords-stream"), default="keywords")
    parser.add_argument("--model", help="default: the task's recipe")
    parser.add_argument("--set", dest="options", default="{}", help="training options, JSON")
    parser.add_argument("--out", type=Path, help="folder for the runs and the flite clips")
    arguments = parser.parse_args()
    trained_at = revision()
    out = arguments.out or Path(tempfile.mkdtemp(prefix="keywords-engines-"))
    runs = list(arguments.runs)
    for seed in range(arguments.seeds):
        options = json.loads(arguments.options)
        trained = convrec.train(
            arguments.task, arguments.model, seed=seed, out=str(out / "runs"), **options
        )
        runs.append(trained.directory)
    if not runs:
        parser.error("give run directories or --seeds")
    folders = build_flite_set(out / "flite")
    print(f"runs and flite clips in {out}")
    rows = {run: score(run, folders) for run in runs}
    columns = list(next(iter(rows.values())))
    table = Table(title=f"keywords: espeak-ng against flite (revision {trained_at})")
    for name in ["run", *columns]:
        table.add_column(name)
    for run, row in rows.items():
        table.add_row(run.name, *(f"{row[column]:.3f}" for column in columns))
    if len(rows) > 1:
        table.add_row(
            "mean",
            *(f"{statistics.mean(row[column] for row in rows.values()):.3f}" for column in columns),
        )
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
