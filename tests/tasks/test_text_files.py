"""Your own texts: tables and class folders read to the same documents, a run trains on a CSV and
predicts a .txt file, evaluates a CSV, and is summarised and reported in fresh processes; bad
files are one clear error with nothing written."""

from __future__ import annotations

import csv
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import convrec
from convrec.cli import app
from convrec.data.text_files import read_texts
from convrec.diagnose.summary import example_input, summary
from convrec.errors import UserError
from convrec.models import create
from convrec.tasks import create_task
from convrec.train.trained import evaluate

GOOD = ["great", "lovely", "tasty", "fresh"]
BAD = ["awful", "stale", "bland", "broken"]
FILLER = ["the", "tea", "box", "was", "and", "arrived", "coffee", "it", "very", "quite"]


def reviews(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """``count`` short ``(text, label)`` reviews, alternately ``bad`` and ``good``; two words of
    each review give its class away among shared filler words."""
    rng = random.Random(seed)
    documents = []
    for index in range(count):
        label = "good" if index % 2 else "bad"
        words = rng.choices(FILLER, k=rng.randint(4, 10))
        words += rng.choices(GOOD if label == "good" else BAD, k=2)
        rng.shuffle(words)
        documents.append((" ".join(words).capitalize() + ".", label))
    return documents


def write_table(path: Path, documents: list[tuple[str, str]], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, delimiter=delimiter)
        writer.writerow(["id", "review", "label"])
        writer.writerows((f"r{index}", *document) for index, document in enumerate(documents))
    return path


def write_folder(root: Path, documents: list[tuple[str, str]]) -> Path:
    for index, (text, label) in enumerate(documents):
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / f"{index}.txt").write_text(text, encoding="utf-8")
    return root


def test_a_table_and_a_folder_read_to_the_same_documents(tmp_path):
    documents = reviews(6)
    tables = [
        read_texts(write_table(tmp_path / "reviews.csv", documents)),
        read_texts(write_table(tmp_path / "reviews.tsv", documents, "\t")),
    ]
    for table in tables:
        assert table.text_column == "review"  # inferred: the one column of text
        assert table.ids[:2] == ["r0", "r1"]
        assert list(zip(table.texts, table.labels, strict=True)) == documents
    folder = read_texts(write_folder(tmp_path / "folder", documents))
    assert folder.ids[:2] == ["bad/0.txt", "bad/2.txt"] and folder.text_column is None
    assert sorted(zip(folder.texts, folder.labels, strict=True)) == sorted(documents)
    (tmp_path / "new.txt").write_text("First one.\n\n  \nSecond, after blank lines.\n")
    lines = read_texts(tmp_path / "new.txt", labelled=False)
    assert lines.ids == ["1", "4"] and lines.labels is None


def test_a_quoted_text_may_span_lines_and_a_number_column_is_no_text(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text('stars,label,body\n5,good,"Line one,\nline two"\n1,bad,Plain\n')
    table = read_texts(path)
    assert table.text_column == "body" and table.texts[0] == "Line one,\nline two"
    assert table.ids == ["0", "1"]


def test_the_vocabulary_comes_from_the_training_split_only(tmp_path):
    # each review carries its own marker word twice: only the training reviews' markers count
    documents = [
        (f"{text} m{index} m{index}", label) for index, (text, label) in enumerate(reviews(40))
    ]
    task = create_task("text", data=str(write_table(tmp_path / "data.csv", documents)))
    data = task.build_data(seed=0)
    markers = {token for token in task.tokenizer.tokens if token.startswith("m")}
    assert len(markers) == len(data.train) == 26  # 40, less 8 for test, less 6 for validation
    assert task.data_summary()["vocabulary"] == len(task.tokenizer)
    ids, _ = data.train[0]
    assert ids.dtype == torch.int64 and ids.dim() == 1


def test_unknown_tokens_map_to_unk_and_long_texts_are_cut(tmp_path):
    data = write_folder(tmp_path / "data", reviews(20))
    task = create_task("text", data=str(data), tokens="char", max_length=5, min_count=1)
    task.build_data(seed=0)
    assert task.input_shape == (None,) and task.model_arguments()["vocab_size"] > 20
    (short,) = task.encode(["ab\u2603"])  # a snowman is in no review
    assert short.tolist()[-1] == 1 and len(short) == 3
    (cut,) = task.encode(["the tea arrived"])
    assert task.tokenizer.decode(cut) == list("the t")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A short TextCNN run on a CSV with its own test CSV."""
    folder = tmp_path_factory.mktemp("text")
    write_table(folder / "train.csv", reviews(60))
    write_table(folder / "test.csv", reviews(20, seed=1))
    run = convrec.train(
        "text",
        epochs=6,
        batch_size=8,
        lr=1e-2,
        progress=False,
        out=str(folder / "runs"),
        task_options={"data": str(folder / "train.csv"), "test": str(folder / "test.csv")},
        model_options={"embedding_dim": 16, "num_filters": 16},
    )
    return run, folder


def test_a_run_on_a_csv_learns_and_saves_its_vocabulary(trained_run):
    run, _ = trained_run
    assert run.metrics["test"]["test"]["accuracy"] >= 0.9
    state = convrec.load(run.directory).description["task_state"]
    assert state["classes"] == ["bad", "good"] and state["text_column"] == "review"
    assert state["tokenizer"]["tokens"][:2] == ["<pad>", "<unk>"]
    assert {"great", "stale", "tea"} <= set(state["tokenizer"]["tokens"])
    assert len(state["tokenizer"]["tokens"]) == state["vocab_size"]


def test_predict_a_txt_file_in_a_fresh_process_without_the_training_data(trained_run, tmp_path):
    run, folder = trained_run
    new = tmp_path / "new.txt"
    new.write_text("Lovely fresh tea, great box.\n\nAwful stale coffee; broken box.\n")
    moved = folder / "train.moved"
    (folder / "train.csv").rename(moved)  # a run travels without the data it learnt from
    try:
        result = subprocess.run(
            [sys.executable, "-m", "convrec.cli", "predict", str(run.directory), str(new)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        moved.rename(folder / "train.csv")
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "new.predictions.csv").read_text().splitlines()
    assert lines[0] == "id,predicted,p_bad,p_good"
    assert [line.split(",")[:2] for line in lines[1:]] == [["1", "good"], ["3", "bad"]]


def test_evaluate_a_csv_and_predict_one_as_training_read_it(trained_run, tmp_path):
    run, folder = trained_run
    scored = evaluate(run.directory, folder / "test.csv")
    assert scored["test.csv"]["accuracy"] == run.metrics["test"]["test"]["accuracy"]
    out = tmp_path / "predicted.csv"
    result = CliRunner().invoke(
        app, ["predict", str(run.directory), str(folder / "test.csv"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.read_text().splitlines()))
    truth = [label for _, label in reviews(20, seed=1)]
    assert [row["id"] for row in rows[:2]] == ["r0", "r1"]
    assert (
        np.mean([row["predicted"] == label for row, label in zip(rows, truth, strict=True)]) >= 0.9
    )


def test_a_loaded_text_model_predicts_text_as_it_is(trained_run):
    run, _ = trained_run
    trained = convrec.load(run.directory)
    texts = ["Lovely fresh tea, great box.", "Awful stale coffee; broken box."]
    ids = [item.numpy() for item in trained.task.encode(texts)]
    for from_text, from_ids in zip(trained.predict(texts), trained.predict(ids), strict=True):
        np.testing.assert_allclose(from_text, from_ids)


def test_summary_and_report_run_on_a_token_model(trained_run):
    # they crashed: the example input was all zeros, all padding for an embedding
    run, _ = trained_run
    runner = CliRunner()
    result = runner.invoke(app, ["summary", str(run.directory), "--json"])
    assert result.exit_code == 0, result.output
    assert '"layer": "Embedding"' in result.output
    result = runner.invoke(app, ["report", str(run.directory)])
    assert result.exit_code == 0, result.output
    assert "Embedding" in (run.directory / "report.html").read_text()


@pytest.mark.parametrize("name", ["textcnn", "gru", "lstm"])
def test_every_text_model_is_summarised_on_an_example_of_token_ids(name):
    options = {} if name == "textcnn" else {"return_sequences": False}
    model = create(name, input_shape=(None,), output_size=2, vocab_size=30, **options)
    example = example_input((None,), "tokens", 12)
    assert example.dtype == torch.int64 and bool((example != 0).all())  # no padding
    first = summary(model.eval(), example).rows[0]
    assert first.layer == "Embedding" and first.output_shape[:2] == (1, 12)


def broken(root: Path, case: str) -> Path:
    """Data with one problem: a table or a folder."""
    root.mkdir()
    tables = {
        "not-utf8": b"label,text\ngood,caf\xe9 au lait\nbad,tea\n",
        "no-label-column": "text,stars\nlovely,5\nawful,1\n",
        "ambiguous": "label,title,body\ngood,Tea,Lovely\nbad,Box,Broken\n",
        "no-text": "label,stars\ngood,5\nbad,1\n",
        "one-class": "label,text\ngood,lovely\ngood,great\ngood,fresh\n",
        "one-document": "label,text\ngood,a\ngood,b\ngood,c\nbad,d\n",
        "empty-text": "label,text\ngood,lovely\nbad, \n",
        "empty-label": "label,text\ngood,lovely\n,awful\n",
        "empty-file": "",
        "header-only": "label,text\n",
        "ragged": "label,text\ngood,lovely,extra\n",
        "unlabelled-txt": "lovely\nawful\n",
    }
    if case in tables:
        path = root / ("data.txt" if case == "unlabelled-txt" else "data.csv")
        content = tables[case]
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path
    if case == "loose":
        (root / "stray.txt").write_text("lovely")
    elif case == "empty-class":
        write_folder(root, reviews(4))
        (root / "nothing").mkdir()
    elif case == "empty-document":
        write_folder(root, reviews(4))
        (root / "good" / "blank.txt").write_text("\n  \n")
    elif case == "not-utf8-document":
        write_folder(root, reviews(4))
        (root / "bad" / "latin.txt").write_bytes(b"fine line\ncaf\xe9\n")
    return root


BROKEN = {
    "not-utf8": r"data\.csv, line 2: expected UTF-8 text",
    "no-label-column": r"line 1: expected a label column 'label'.*got the columns text, stars",
    "ambiguous": r"one column of text.*got the text columns title, body",
    "no-text": r"one column of text.*got no column of text among label, stars",
    "one-class": r"expected at least two classes",
    "one-document": r"the class 'bad' has only one of the texts, too few to hold out a test split",
    "empty-text": r"line 3, column 'text': expected a text, got an empty cell",
    "empty-label": r"line 3, column 'label': expected a label, got an empty cell",
    "empty-file": r"line 1: expected a header line, got an empty file",
    "header-only": r"line 2: expected at least one document after the header",
    "ragged": r"line 2: expected 2 cells, got 3",
    "unlabelled-txt": r"a \.txt file holds unlabelled documents",
    "empty": r"expected one subfolder of \.txt documents per class, found no class folder",
    "loose": r"expected \.txt documents inside class subfolders.*stray\.txt",
    "empty-class": r"nothing: expected \.txt documents of class 'nothing'",
    "empty-document": r"blank\.txt, line 1: expected a text, got an empty file",
    "not-utf8-document": r"latin\.txt, line 2: expected UTF-8 text",
}


@pytest.mark.parametrize(("case", "message"), BROKEN.items(), ids=BROKEN.keys())
def test_bad_data_is_one_clear_error_and_nothing_is_written(tmp_path, case, message):
    data = broken(tmp_path / "data", case)
    out = tmp_path / "runs"
    with pytest.raises(UserError, match=message):
        convrec.train(
            "text", epochs=1, progress=False, out=str(out), task_options={"data": str(data)}
        )
    assert not out.exists()


def test_test_texts_of_a_class_never_seen_are_refused(tmp_path):
    data = write_table(tmp_path / "data.csv", reviews(8))
    (tmp_path / "test.csv").write_text("label,review\ngood,lovely\nmeh,so so\n")
    out = tmp_path / "runs"
    with pytest.raises(UserError, match=r"labels never seen in training: 'meh'"):
        convrec.train(
            "text",
            epochs=1,
            progress=False,
            out=str(out),
            task_options={"data": str(data), "test": str(tmp_path / "test.csv")},
        )
    assert not out.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tokens": "byte"}, r"`tokens`: expected one of 'word', 'char'"),
        ({"max_length": 0}, r"`max_length`: expected a positive integer"),
        ({"max_vocabulary": 2}, r"`max_vocabulary`: expected at least 3"),
        ({"text_column": "body"}, r"expected the text column 'body', got the columns id, review"),
        ({"label_column": "stars"}, r"expected a label column 'stars'"),
    ],
)
def test_bad_options_are_named(tmp_path, options, message):
    data = write_table(tmp_path / "data.csv", reviews(8))
    with pytest.raises(UserError, match=message):
        convrec.train(
            "text",
            progress=False,
            out=str(tmp_path / "runs"),
            task_options={"data": str(data), **options},
        )
    assert not (tmp_path / "runs").exists()


def test_bad_texts_to_predict_are_named(trained_run, tmp_path):
    run, _ = trained_run
    task = convrec.load(run.directory).task
    (tmp_path / "latin.txt").write_bytes(b"lovely tea\ncaf\xe9\n")
    (tmp_path / "blank.txt").write_text("\n \n")
    (tmp_path / "other.csv").write_text("id,body\n1,lovely\n")
    for name, message in (
        ("latin.txt", r"latin\.txt, line 2: expected UTF-8 text"),
        ("blank.txt", r"expected one document per line, got an empty file"),
        ("other.csv", r"expected the text column 'review', got the columns id, body"),
    ):
        with pytest.raises(UserError, match=message):
            task.prediction_inputs(tmp_path / name)
    shutil.copy(tmp_path / "blank.txt", tmp_path / "blank.md")
    with pytest.raises(UserError, match=r"expected texts in a \.txt file"):
        task.prediction_inputs(tmp_path / "blank.md")


def test_a_reviews_recipe_run_keeps_its_vocabulary_and_predicts_new_text(tmp_path):
    # the recipe's run held no vocabulary: it could not read a review it had not seen
    header = "product,review,score\n"
    rows = [
        f"p{i},{'Lovely fresh tea' if i % 2 else 'Stale broken box'} {i % 5},"
        f"{'great' if i % 2 else 'other'}\n"
        for i in range(40)
    ]
    (tmp_path / "training_data.csv").write_text(header + "".join(rows[:32]))
    (tmp_path / "testing_data.csv").write_text(header + "".join(rows[32:]))
    run = convrec.train(
        "reviews",
        epochs=4,
        batch_size=8,
        progress=False,
        out=str(tmp_path / "runs"),
        task_options={"root": str(tmp_path)},
        model_options={"num_filters": 8},
    )
    state = convrec.load(run.directory).description["task_state"]
    assert {"lovely", "stale"} <= set(state["tokenizer"]["tokens"])
    new = tmp_path / "new.txt"
    new.write_text("lovely fresh tea\nstale broken box\n")
    result = subprocess.run(
        [sys.executable, "-m", "convrec.cli", "predict", str(run.directory), str(new)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "new.predictions.csv").read_text().splitlines()
    assert lines[0] == "id,predicted,p_other,p_great"
    assert [line.split(",")[:2] for line in lines[1:]] == [["1", "great"], ["2", "other"]]
    moved = tmp_path / "moved"  # the recipe's files moved since training
    moved.mkdir()
    for name in ("training_data.csv", "testing_data.csv"):
        (tmp_path / name).rename(moved / name)
    gone = r"found none of them\. The run read its data from .*--data FOLDER"
    with pytest.raises(UserError, match=gone):
        evaluate(run.directory)
    assert evaluate(run.directory, moved) == run.metrics["test"]
