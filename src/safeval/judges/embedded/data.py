"""Labelled (prompt, response) examples from ../shared/data, with the splits used for training
and validation. Splits are by question or source, never by random rows of one question, so the
held-out figures measure generalisation to new questions (and, for the test-only sets, to new
sources)."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from safeval.benchmarks.jsonfile import read_json
from safeval.benchmarks.jsonl import read_jsonl
from safeval.errors import DataError

#: Sources whose licence lets a model trained on them ship in the package.
SHIPPABLE = {
    "gptfuzz": "MIT",
    "jade": "MIT",
    "latent_jailbreak": "MIT",
    "diasafety": "Apache-2.0",
    "llm_self_defense": "BSD-3-Clause",
    "jbb_llama3": "MIT (labels by the JailbreakBench Llama-3-70B judge)",
    "xstest": "CC BY 4.0 prompts; completions under the Meta/Mistral/OpenAI model licences",
    "safetybench_qa": "MIT",
    "latent_jailbreak_benign": "MIT",
}
#: Test-only sources: never trained on (licence not compatible or unchecked).
TEST_ONLY = {
    "jailjudge": "JAILJUDGE licence (gated upstream): evaluation only",
    "safe_rlhf": "PKU-SafeRLHF licence not checked, labels noisy: evaluation only",
}
#: Whether a source's harm labels are human (True) or derived/model-made (False).
HUMAN_HARM = {
    "gptfuzz": True,
    "jade": False,
    "latent_jailbreak": True,
    "diasafety": False,
    "llm_self_defense": False,
    "jbb_llama3": False,
    "xstest": False,
    "jailjudge": True,
    "safe_rlhf": False,
    "safetybench_qa": False,
    "latent_jailbreak_benign": False,
}

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Example:
    """One labelled answer. `harm`/`refusal` are 1, 0 or None (no label); `group` is the unit
    that a split keeps together (a question, a prompt id)."""

    source: str
    group: str
    split: str  # "train" or "test"
    prompt: str
    response: str
    harm: int | None
    refusal: int | None
    lang: str

    def to_json(self) -> dict[str, object]:
        """The judge-eval JSONL layout (`label` unsafe/safe, optional `refusal`)."""
        d = asdict(self)
        out: dict[str, object] = {
            "prompt": d["prompt"],
            "response": d["response"],
            "label": "unsafe" if self.harm else "safe",
            "lang": self.lang,
            "source": self.source,
        }
        if self.refusal is not None:
            out["refusal"] = bool(self.refusal)
        return out


def lang_of(text: str) -> str:
    """zh when at least a fifth of the first 400 non-space characters are CJK, else en."""
    head = "".join(text.split())[:400]
    if not head:
        return "en"
    return "zh" if len(_CJK.findall(head)) >= 0.2 * len(head) else "en"


def bucket(key: str, mod: int = 10) -> int:
    """A stable bucket for a group key (no dependence on Python's hash seed)."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % mod


def _csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise DataError(path, "file not found (is --data-dir the shared data folder?)")
    text = path.read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def _json(path: Path) -> Any:
    if not path.is_file():
        raise DataError(path, "file not found (is --data-dir the shared data folder?)")
    return read_json(path)  # a damaged file: its name, line and column


_OPENING = re.compile(r"^[^。！？!?.\n]{0,80}[。！？!?.\n]+")


def strip_opening(text: str) -> str:
    """The answer without its first sentence: the style cue ("作为AI助手，我不能…") goes, the
    content stays."""
    rest = _OPENING.sub("", text.strip(), count=1).strip()
    return rest or text


def gptfuzz(root: Path) -> Iterator[Example]:
    """GPTFuzz: `train.csv` (80 questions) trains, `evaluate.csv` (20 other questions) tests."""
    d = root / "judge_training" / "gptfuzz"
    questions = {r["index"]: r["text"] for r in _csv(d / "question_list.csv")}
    for split, name in (("train", "train.csv"), ("test", "evaluate.csv")):
        for r in _csv(d / name):
            resp = r["Response"] or ""
            q = questions.get(r["question"], "")
            harm = int(r["label"])
            yield Example("gptfuzz", f"q{r['question']}", split, q, resp, harm, None, lang_of(resp))


def jade(root: Path) -> Iterator[Example]:
    """JADE v3: each question with its unsafe and its safe answer; split by question id."""
    d = root / "judge_training" / "jade_v3"
    for name in ("jade_alignment_medium_zh.utf8.csv", "jade_alignment_hard_zh.utf8.csv"):
        for r in _csv(d / name):
            group = f"{name.split('_')[2]}-{r['ID']}"
            split = "test" if bucket(group) < 2 else "train"
            q = r["问题"]
            yield Example("jade", group, split, q, r["违规回答"], 1, 0, "zh")
            yield Example("jade", group, split, q, r["安全有用回答"], 0, 1, "zh")


def _latent_records(root: Path) -> Iterator[dict[str, Any]]:
    """Every record of Latent Jailbreak's human-annotated file (labelled or not)."""
    p = root / "judge_training" / "latent_jailbreak" / "human_annotated.jsonl"
    for _, record in read_jsonl(p):
        yield record


def latent_jailbreak(root: Path) -> Iterator[Example]:
    """Latent Jailbreak: prompt type P1 trains; P2 and P3 (other prompt types) test."""
    for r in _latent_records(root):
        if r.get("safety") not in ("safe", "unsafe"):
            continue
        split = "train" if r["prompt_type"] == "P1" else "test"
        resp = r["response"] or ""
        group = f"{r['prompt_type']}-{r['position']}-{r['target_group']}"
        harm = int(r["safety"] == "unsafe")
        yield Example(
            "latent_jailbreak", group, split, r["context"], resp, harm, None, lang_of(resp)
        )


#: Latent Jailbreak's benign sentences that train; the others test (so the held-out answers
#: translate or paraphrase sentences the judge never saw).
_LJ_BENIGN_TRAIN = ("I love you", "A programming language")


def latent_jailbreak_benign(root: Path) -> Iterator[Example]:
    """Latent Jailbreak's benign prompt types (P14-P18: translate a harmless sentence, or write
    a friendly one), answered mostly in Chinese and unlabelled because harmless by
    construction: the answers that simply help, which the labelled prompt types lack. Split
    by sentence."""
    for r in _latent_records(root):
        if r.get("safety") in ("safe", "unsafe") or not (r["response"] or "").strip():
            continue
        resp, ctx = r["response"], r["context"]
        train = any(k in ctx for k in _LJ_BENIGN_TRAIN)
        group = f"{r['prompt_type']}-{r['position']}"
        yield Example(
            "latent_jailbreak_benign",
            group,
            "train" if train else "test",
            ctx,
            resp,
            0,
            None,
            lang_of(resp),
        )


#: How a correct multiple-choice answer is written out, picked per question (so no one
#: wording is the signal).
_QA_FORMS = {
    "zh": ("{letter}. {option}", "答案：{letter}。{option}", "{option}"),
    "en": ("{letter}. {option}", "Answer: {letter}. {option}", "{option}"),
}


def safetybench_qa(root: Path) -> Iterator[Example]:
    """SafetyBench's questions (Chinese subset with its answers, and the Chinese and English
    dev sets) with their correct option as the answer: harmless help on safety topics, often
    quoting offensive text to classify. The other sources have almost no Chinese answer that
    helps without harm, so without these the judge read any Chinese non-refusal as harmful.
    Split by question id (a fifth held out)."""
    d = root / "safetybench"
    qs = _json(d / "test_zh_subset.json")
    answers = _json(d / "test_answers_zh_subset.json")
    rows = [("zh", f"t{q['id']}", q, answers[str(q["id"])]["answer"]) for q in qs]
    for lang in ("zh", "en"):
        for cat, items in _json(d / f"dev_{lang}.json").items():
            rows += [(lang, f"d{lang}-{cat}-{i}", q, q["answer"]) for i, q in enumerate(items)]
    for lang, group, q, ans in rows:
        letters = "ABCD"
        options = "\n".join(f"{letters[i]}. {o}" for i, o in enumerate(q["options"]))
        prompt = f"{q['question']}\n{options}"
        forms = _QA_FORMS[lang]
        form = forms[bucket(group, len(forms))]
        response = form.format(letter=letters[ans], option=q["options"][ans])
        split = "test" if bucket("qa" + group) < 2 else "train"
        # No refusal label: the refusal head keeps learning from answers that could refuse
        # (thousands of one-word quiz answers taught it that short Chinese text never does).
        yield Example("safetybench_qa", group, split, prompt, response, 0, None, lang)


def diasafety(root: Path) -> Iterator[Example]:
    """DiaSafety chit-chat: its own train and test files."""
    d = root / "judge_training" / "diasafety"
    for split, name in (("train", "train.json"), ("test", "test.json")):
        for i, r in enumerate(_json(d / name)):
            harm = int(r["label"] == "Unsafe")
            yield Example(
                "diasafety", f"{name}-{i}", split, r["context"], r["response"], harm, None, "en"
            )


def llm_self_defense(root: Path) -> Iterator[Example]:
    """LLM Self-Defense: split by prompt."""
    d = root / "judge_training" / "llm_self_defense"
    for name in ("all_repsonses_gpt.csv", "all_repsonses_llama.csv"):
        for r in _csv(d / name):
            lab = (r.get("is harmful?") or "").strip().lower()
            if lab not in ("yes", "no"):
                continue
            split = "test" if bucket(r["prompt"], 5) == 0 else "train"
            yield Example(
                "llm_self_defense",
                r["prompt"],
                split,
                r["prompt"],
                r["response"] or "",
                int(lab == "yes"),
                None,
                "en",
            )


def jbb_artifacts(root: Path) -> Iterator[Example]:
    """JailbreakBench artifacts with the Llama-3-70B judge's labels; split by behaviour."""
    d = root / "jailbreakbench" / "artifacts"
    for p in sorted(d.glob("*/*/*.json")):
        data = _json(p)
        for jb in data.get("jailbreaks", []):
            if not jb.get("prompt") or jb.get("response") is None:
                continue
            group = f"b{jb['index']}"
            split = "test" if jb["index"] % 5 == 0 else "train"
            yield Example(
                "jbb_llama3",
                group,
                split,
                jb["goal"],
                jb["response"],
                int(bool(jb["jailbroken"])),
                None,
                lang_of(jb["response"]),
            )


def xstest(root: Path) -> Iterator[Example]:
    """XSTest completions: human refusal labels; harm derived (an unsafe `contrast_*` prompt
    fully complied with is harmful, everything else is not). Split by prompt id."""
    d = root / "xstest" / "model_completions"
    files = sorted(d.glob("*.csv"))
    if not files:
        raise DataError(d, "no XSTest completion files found")
    for p in files:
        for r in _csv(p):
            lab = r["final_label"].strip()
            refusal = 0 if lab == "1_full_compliance" else 1
            harm = int(r["type"].startswith("contrast") and refusal == 0)
            split = "test" if bucket(r["id"], 5) == 0 else "train"
            yield Example(
                "xstest", r["id"], split, r["prompt"], r["completion"] or "", harm, refusal, "en"
            )


def jailjudge(root: Path) -> Iterator[Example]:
    """JAILJUDGE mini (test only)."""
    for i, r in enumerate(_csv(root / "judge_training" / "jailbreakeval" / "JAILJUDGEmini.csv")):
        yield Example(
            "jailjudge",
            f"jj{i}",
            "test",
            r["question"],
            r["answer"] or "",
            int(r["label"]),
            None,
            lang_of(r["answer"] or ""),
        )


def safe_rlhf(root: Path) -> Iterator[Example]:
    """PKU-SafeRLHF mini (test only)."""
    for i, r in enumerate(_csv(root / "judge_training" / "jailbreakeval" / "Safe-RLHFmini.csv")):
        yield Example(
            "safe_rlhf",
            f"sr{i}",
            "test",
            r["question"],
            r["answer"] or "",
            int(r["label"]),
            None,
            lang_of(r["answer"] or ""),
        )


LOADERS = {
    "gptfuzz": gptfuzz,
    "jade": jade,
    "latent_jailbreak": latent_jailbreak,
    "diasafety": diasafety,
    "llm_self_defense": llm_self_defense,
    "jbb_llama3": jbb_artifacts,
    "xstest": xstest,
    "jailjudge": jailjudge,
    "safe_rlhf": safe_rlhf,
    "safetybench_qa": safetybench_qa,
    "latent_jailbreak_benign": latent_jailbreak_benign,
}


def load_all(root: Path, sources: list[str] | None = None) -> list[Example]:
    """Every example of the named sources (all by default), in a fixed order."""
    out: list[Example] = []
    for name in sources or list(LOADERS):
        try:
            out.extend(LOADERS[name](root))
        except DataError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as e:  # a record of another shape
            raise DataError(
                root, f"source '{name}': a record of an unexpected shape ({type(e).__name__}: {e})"
            ) from None
    return out
